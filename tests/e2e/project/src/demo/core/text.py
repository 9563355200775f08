from ..util import shout


def words(text):
    return [shout(w) for w in text.split()]
