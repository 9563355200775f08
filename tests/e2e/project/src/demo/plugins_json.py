import json


def render(obj):
    return json.dumps(obj, sort_keys=True)
