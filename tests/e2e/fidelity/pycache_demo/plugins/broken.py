# Does not compile: no .pyc is shipped, and importing it fails as in python.
VALUE = (
