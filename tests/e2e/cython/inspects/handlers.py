"""Handlers of the app, registered with the registry, which checks them."""
from registry import handler


@handler
def greet(who):
    return f"hello {who}"


@handler
def shout(who):
    return greet(who).upper()
