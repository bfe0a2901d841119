def greeting(name: str) -> str:
    return f"Hello, {name}, from code ferried by codeferry!"
