"""What the deployment files expose: Flower (which can revoke tasks and stop workers) is
reachable from the host's loopback only, in docker-compose and in the Procfile."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def compose_service(name: str) -> list[str]:
    """The lines of one service in docker-compose.yml (two-space indented keys)."""
    lines = (ROOT / "docker-compose.yml").read_text().splitlines()
    start = lines.index(f"  {name}:")
    block = []
    for line in lines[start + 1 :]:
        if re.match(r"^ {0,2}\S", line):
            break
        block.append(line)
    return block


def published_ports(service: list[str]) -> list[str]:
    ports, inside = [], False
    for line in service:
        if re.match(r"^    \S", line):
            inside = line.strip() == "ports:"
        elif inside and line.strip().startswith("- "):
            ports.append(line.strip()[2:].strip("\"'"))
    return ports


def test_compose_publishes_flower_on_loopback_only():
    ports = published_ports(compose_service("flower"))
    assert ports, "flower publishes no port"
    assert all(port.startswith("127.0.0.1:") for port in ports), ports


def test_compose_services_other_than_web_publish_nothing_on_all_interfaces():
    text = (ROOT / "docker-compose.yml").read_text()
    services = re.findall(r"^  (\w[\w-]*):$", text.split("\nservices:\n", 1)[1], re.M)
    for name in services:
        if name == "web":
            continue
        for port in published_ports(compose_service(name)):
            assert port.startswith("127.0.0.1:"), (name, port)


def test_procfile_flower_listens_on_loopback():
    flower = next(
        line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("flower:")
    )
    assert "--address=127.0.0.1" in flower
