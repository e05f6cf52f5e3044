"""One router per resource; each route is a thin function over a service, its roles declared in
``xingqu.api.access.ROUTE_ROLES`` under its name."""
