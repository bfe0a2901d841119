"""A sample flow: a plain function codeferry pulls and runs; it imports a sibling module."""

from greetings import greeting


def hello(name: str = "world", times: int = 1) -> str:
    message = " ".join([greeting(name)] * times)
    print(message)
    return message
