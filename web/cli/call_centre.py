"""`hotline demo call-centre`: a fake call centre (ACD) in its own process for demos and the
browser tests, as `hotline demo police-desk` is for 110: it serves `POST /transfer` and the
recordings over HTTP and places calls to the hotline's agents by extension — ringing, answered
or abandoned in the queue, hung up, recorded — each event signed and posted to
`/hooks/cti/events`."""

from __future__ import annotations

import json
import random
import threading
import time

import click

from web.cli.data import demo


@demo.command("call-centre")
@click.option("--port", default=5160, show_default=True, type=int)
@click.option("--key", "key_spec", default="cc-1:demo-secret", show_default=True,
              help="KEY_ID:SECRET shared with the hotline (HOTLINE_CTI_KEYS)")
@click.option("--hotline", default="http://127.0.0.1:5000", show_default=True,
              help="the hotline's base URL (events go to its /hooks/cti/events)")
@click.option("--agents", default="8001", show_default=True,
              help="extensions to ring, comma-separated (an unknown one is kept by the hotline "
                   "and shown to dispatchers)")
@click.option("--calls", default=3, show_default=True, type=int,
              help="calls to place (0: only serve transfers and recordings)")
@click.option("--every", default=20.0, show_default=True, type=float,
              help="seconds between the calls' starts")
@click.option("--abandon", default=0.3, show_default=True, type=float,
              help="share of callers who hang up in the queue (漏接)")
@click.option("--caller", default=None, help="every call from this number (default: random)")
@click.option("--speed", default=1.0, show_default=True, type=float,
              help="time runs this many times faster (ring and talk times)")
@click.option("--seed", default=None, type=int, help="random seed (reproducible calls)")
@click.option("--seconds", type=float, default=None,
              help="stop after this long (default: when the calls are done; Ctrl-C)")
def demo_call_centre(port: int, key_spec: str, hotline: str, agents: str, calls: int,
                     every: float, abandon: float, caller: str | None, speed: float,
                     seed: int | None, seconds: float | None) -> None:
    """Run a fake call centre on localhost that rings the hotline's agents."""
    from integrations.cti.fake import FakeCallCentre

    key_id, sep, secret = key_spec.partition(":")
    if not sep or not key_id or not secret:
        raise click.BadParameter("格式须为 KEY_ID:SECRET", param_hint="--key")
    if not 0 <= abandon <= 1:
        raise click.BadParameter("须在 0 到 1 之间", param_hint="--abandon")
    if speed <= 0:
        raise click.BadParameter("须大于 0", param_hint="--speed")
    extensions = [a.strip() for a in agents.split(",") if a.strip()]
    rng = random.Random(seed)
    centre = FakeCallCentre({key_id: secret}, hotline=hotline, _port=port).start()
    click.echo(f"fake call centre on {centre.url}; start the hotline with\n"
               f"  HOTLINE_CTI_URL={centre.url} "
               f"HOTLINE_CTI_KEYS='{json.dumps({key_id: secret}, ensure_ascii=False)}'")
    run = f"{int(time.time()):x}"

    # Every call's plan is drawn first, in order: the same seed gives the same calls.
    plans = []
    for _ in range(calls):
        number = caller or f"139{rng.randrange(10**8):08d}"
        answered = rng.random() >= abandon
        ring_s = rng.uniform(2, 12) if answered else rng.uniform(20, 60)
        plans.append((number, answered, ring_s, rng.uniform(30, 180)))

    def one(n: int) -> None:
        call_id = f"CC-{run}-{n:04d}"
        number, answered, ring_s, talk_s = plans[n]
        try:
            answers = centre.place_call(hotline, call_id, number,
                                        extensions[n % len(extensions)] if extensions else None,
                                        ring_s=ring_s, answered=answered, talk_s=talk_s,
                                        sleep=lambda s: time.sleep(s / speed))
        except OSError as exc:
            click.echo(f"{call_id}: the hotline is unreachable ({exc})", err=True)
            return
        click.echo(f"{call_id} from {number}: "
                   + ", ".join(f"{a.status}" for a in answers)
                   + (" answered" if answered else " abandoned (漏接)"))

    threads = []
    end = None if seconds is None else time.monotonic() + seconds
    try:
        for n in range(calls):
            thread = threading.Thread(target=one, args=(n,), daemon=True)
            thread.start()
            threads.append(thread)
            time.sleep(every / speed if n < calls - 1 else 0)
        shown = 0
        while (end is None and (any(t.is_alive() for t in threads) or calls == 0)) or \
                (end is not None and time.monotonic() < end):
            time.sleep(0.2)
            for payload in centre.transfers[shown:]:
                click.echo(f"transfer: {json.dumps(payload, ensure_ascii=False)}")
            shown = len(centre.transfers)
    except KeyboardInterrupt:
        pass
    finally:
        centre.stop()
