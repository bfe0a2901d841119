from codeferry.cli import main

main()
