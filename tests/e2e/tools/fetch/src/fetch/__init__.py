"""fetch: GET a URL with requests and say what came back."""
