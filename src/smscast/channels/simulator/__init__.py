"""The built-in SMSC simulator: an SMPP 3.4 server for development, demos and tests.

sim = await start_simulator(SimulatorConfig(port=0, http_port=None))
... bind an ESME to 127.0.0.1:sim.port ...
await sim.send_mo("+48600111222", "4000", "STOP")
await sim.close()
"""

from smscast.channels.simulator.config import SimulatorConfig
from smscast.channels.simulator.mo import MoError, MoSent
from smscast.channels.simulator.server import RunningSimulator, start_simulator
from smscast.channels.simulator.stats import Stats

__all__ = ["MoError", "MoSent", "RunningSimulator", "SimulatorConfig", "Stats", "start_simulator"]
