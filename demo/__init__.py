"""`make demo` (python -m demo): Shareline with a simulated provider, agents and customers.

Nothing in the product imports this package, except create_app in demo mode
(SHARELINE_DEMO_SIMULATOR_URL, which only `make demo` sets) for the /demo/phone page.
"""
