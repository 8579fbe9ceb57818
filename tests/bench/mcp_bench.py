"""The measurements of tests/bench/mcp.sh (which sets up the provider, the account and the grant).

JSON-RPC lines are written and read by hand, so that no SDK's own time is counted: the MCP side is
`latchkey mcp` itself. The direct side is one kept-alive HTTPS connection from this process, with
the same token (`latchkey token`), to the same /me; the two alternate call by call.
"""

import http.client
import json
import os
import ssl
import statistics
import subprocess
import sys
import time
from urllib.parse import urlparse

BIN, ISSUER, CA, RUNS = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ACCOUNT = "test:bench"


class Server:
    def __init__(self):
        self.p = subprocess.Popen([BIN, "mcp", "--consumer", "bench"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
        self.next_id = 0

    def send(self, method, params=None, notify=False):
        message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        if not notify:
            self.next_id += 1
            message["id"] = self.next_id
        self.p.stdin.write((json.dumps(message) + "\n").encode())
        if notify:
            return None
        while True:
            reply = json.loads(self.p.stdout.readline())
            if reply.get("id") == self.next_id:
                return reply

    def start(self):
        self.send("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                 "clientInfo": {"name": "bench", "version": "1"}})
        self.send("notifications/initialized", notify=True)
        return self.send("tools/list")

    def stop(self):
        self.p.stdin.close()
        self.p.wait(10)


def ms(seconds):
    return f"{seconds * 1000:.2f} ms"


# Start to tools/list answered.
starts = []
for _ in range(max(10, RUNS // 10)):
    t0 = time.perf_counter()
    s = Server()
    tools = s.start()
    starts.append(time.perf_counter() - t0)
    assert len(tools["result"]["tools"]) == 2, tools
    s.stop()

# call_api through the server beside the same GET made directly.
token = subprocess.run([BIN, "token", ACCOUNT], capture_output=True, text=True, check=True).stdout.strip()
base = urlparse(ISSUER)
direct = http.client.HTTPSConnection(base.hostname, base.port, context=ssl.create_default_context(cafile=CA))
s = Server()
s.start()
through, straight = [], []
call = {"name": "call_api", "arguments": {"account": ACCOUNT, "method": "GET", "path": "me"}}
for i in range(RUNS + 10):
    t0 = time.perf_counter()
    reply = s.send("tools/call", call)
    t1 = time.perf_counter()
    direct.request("GET", "/me", headers={"Authorization": f"Bearer {token}"})
    answer = direct.getresponse()
    body = answer.read()
    t2 = time.perf_counter()
    result = reply["result"]
    assert not result.get("isError") and result["structuredContent"]["status"] == 200, result
    assert answer.status == 200 and json.loads(body) == result["structuredContent"]["body"], body
    if i >= 10:  # the first calls warm both connections
        through.append(t1 - t0)
        straight.append(t2 - t1)
time.sleep(1)
rss_kib = next(int(line.split()[1]) for line in open(f"/proc/{s.p.pid}/status") if line.startswith("VmRSS:"))
s.stop()
token = None

m_through, m_straight = statistics.median(through), statistics.median(straight)
print(f"call_api GET /me through latchkey mcp: {ms(m_through)} median of {len(through)}")
print(f"the same GET made directly:            {ms(m_straight)} median of {len(straight)}")
print(f"added latency: {ms(m_through - m_straight)} (ratio {m_through / m_straight:.2f}x; target <= 3 ms)")
print(f"start to tools/list answered: {ms(statistics.median(starts))} median of {len(starts)} (target <= 50 ms)")
print(f"idle RSS after {len(through) + 10} calls: {rss_kib / 1024:.1f} MiB (target <= 15 MiB)")
print(f"binary: {os.path.getsize(BIN)} bytes")
