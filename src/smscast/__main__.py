from smscast.cli import main

main()
