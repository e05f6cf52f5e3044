"""``python -m xingqu``: the same command line as the ``xingqu`` script."""

from xingqu.cli.app import main

if __name__ == "__main__":
    main()
