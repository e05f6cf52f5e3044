"""xingqu: an engine for interest e-commerce — goods find people (货找人)."""

__version__ = "0.1.0"
