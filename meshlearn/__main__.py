"""``python -m meshlearn ...``: the same command line as the ``meshlearn`` script."""

from .cli import main

if __name__ == "__main__":
    main()
