"""Everything that touches Kafka or the network: the Faust service shell, the batch data
plane, the embedded broker, sources, the generator, metrics and the command line."""

__version__ = "0.1.0"
