from ledger.cli.commands import main

main()
