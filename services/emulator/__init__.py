"""The embedded AWS's changes to moto: each a module of its own, installed by services/embedded_aws.py.

moto is the emulator the local default, the tests and the benchmarks run on. Where it does slowly what
CloudThrift asks of it at scale (a full scan's queue traffic, a 10,000-decision report, 360 clean-ups),
or answers a service it does not serve with a crash, a module here replaces the one moto function at
fault, keeps its answers (each has a test comparing them with moto's own on the same input) and says
what moto did and why the replacement is equivalent. Production never imports this package.
"""
