NAME = "beta"


def run():
    return "beta ran"
