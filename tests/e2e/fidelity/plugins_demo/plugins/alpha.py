NAME = "alpha"


def run():
    return "alpha ran"
