import importlib.metadata


def main():
    from webob import Request  # imports cgi, which legacy-cgi provides on 3.13

    names = {d.metadata["Name"].lower() for d in importlib.metadata.distributions()}
    print("distributions:", sorted(names & {"webob", "legacy-cgi", "typing-extensions"}))
    r = Request.blank("/?a=1&b=2", POST={"f": "v"})
    print(dict(r.GET), dict(r.POST))
