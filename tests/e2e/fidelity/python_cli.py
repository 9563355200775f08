"""An app built with --python-cli: under its own name it runs this; as python3, it is python."""
import sys

print("app mode:", __name__, sys.argv[1:])
