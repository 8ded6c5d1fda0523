from simulator.proxy.cli import main

main()
