from codeferry.cli import program

program()
