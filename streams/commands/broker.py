"""``personalizer broker``: run the embedded Kafka-protocol broker (Tansu) in the foreground.

For local development and demos: starts the broker, creates every topic the service
uses, prints the bootstrap address and runs until Ctrl-C (SIGINT) or SIGTERM. The broker
keeps everything in memory; stopping it discards all topics and records.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click
from rich.console import Console

from streams.broker import BrokerError, EmbeddedBroker
from streams.settings import ConfigError, load_settings
from streams.topics import TopicError, ensure_topics, topic_specs

__all__ = ["broker_command"]


@click.command("broker")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=9092,
    show_default=True,
    help="Port to listen on.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--no-topics", is_flag=True, help="Do not create the service's topics.")
@click.option(
    "--partitions",
    type=click.IntRange(min=1),
    default=None,
    help="Partitions per created topic [default: PERSONALIZER_PARTITIONS, 8].",
)
def broker_command(port: int, host: str, no_topics: bool, partitions: int | None) -> None:
    """Run an in-memory Kafka-compatible broker (Tansu) until Ctrl-C.

    Creates the topics named by the PERSONALIZER_* settings unless --no-topics is
    given. Point clients at it with PERSONALIZER_BOOTSTRAP_SERVERS=HOST:PORT.
    """
    console = Console(highlight=False)
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise click.ClickException(f"invalid configuration:\n{exc}") from None

    stop = threading.Event()
    received: list[str] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    broker = EmbeddedBroker(port=port, host=host)
    try:
        try:
            broker.start()
        except BrokerError as exc:
            raise click.ClickException(str(exc)) from None
        console.print(
            f"[bold green]broker[/] listening on [bold]{broker.bootstrap_servers}[/] "
            f"(Tansu, in-memory, pid {broker.pid})"
        )
        console.print(f"bootstrap servers: {broker.bootstrap_servers}")
        if not no_topics:
            update: dict[str, object] = {"bootstrap_servers": broker.bootstrap_servers}
            if partitions is not None:
                update["partitions"] = partitions
            topic_settings = settings.model_copy(update=update)
            specs = topic_specs(topic_settings)
            try:
                ensure_topics(topic_settings.admin_config(), specs)
            except TopicError as exc:
                raise click.ClickException(str(exc)) from None
            width = max(len(spec.name) for spec in specs)
            console.print(f"topics ({len(specs)}):")
            for spec in specs:
                console.print(
                    f"  {spec.name:<{width}}  {spec.partitions:>3} partitions  "
                    f"{spec.config.get('cleanup.policy', '')}",
                    soft_wrap=True,
                )
        console.print("Press Ctrl-C to stop. Everything is kept in memory only.")
        while not stop.wait(0.5):
            if not broker.is_running():
                raise click.ClickException("the broker process exited unexpectedly")
        console.print(f"received {received[0] if received else 'stop'}, stopping the broker")
    finally:
        broker.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
