"""A real MCP client (the official Python SDK, PyPI `mcp`, pinned in scripts/setup) that drives
`latchkey mcp` for crates/latchkey-cli/tests/mcp.rs.

    client.py PLAN.json   ->   one JSON object on stdout

PLAN: {"command": [...], "env": {...} (over this process's own), "client_name": "...", "elicit": null | [answer, ...],
       "transcript": FILE, "stderr": FILE, "provider": {"issuer": URL, "ca_file": FILE},
       "steps": [{"list_tools": true} | {"tool": NAME, "args": {...}, "cancel_after": SECONDS?}]}

`elicit` null: the client declares no elicitation capability. Otherwise each elicitation request
takes the next answer: "allow_once", "allow_always", "deny" (accepted with that choice),
"decline" or "cancel"; for a URL request also "accept" (and nothing more), "browse" (accepted,
and the scripted browser, tests/e2e/browser.mjs, signs in at the URL as the person would) or
"approve_code" (accepted, and the provider's test control approves the user code in the URL, as
the person would on a device). Each step reports the scripted browsers' exit codes. Every line on
the server's stdin and stdout goes to `transcript` as it is ("> " sent, "< " received); its stderr
to `stderr`. Before each step the provider's request log is
cleared, and after it the requests the provider served are reported with the step's result
(null when the provider is not running).
"""

import json
import os
import ssl
import subprocess
import sys
import urllib.parse
import urllib.request
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from mcp import types
from mcp.client.session import ClientSession
from mcp.shared.message import SessionMessage


@asynccontextmanager
async def logged_stdio(command, env, transcript, errlog):
    """stdio_client's transport, keeping every line exchanged, byte for byte."""
    process = await anyio.open_process(command, env=env, stderr=errlog)
    read_send, read_recv = anyio.create_memory_object_stream(0)
    write_send, write_recv = anyio.create_memory_object_stream(0)

    async def reader():
        buffer = b""
        async with read_send:
            async for chunk in process.stdout:
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    transcript.write(b"< " + line + b"\n")
                    transcript.flush()
                    if not line.strip():
                        continue
                    try:
                        message = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
                    except ValueError as e:
                        await read_send.send(e)
                        continue
                    await read_send.send(SessionMessage(message))

    async def writer():
        async with write_recv:
            async for session_message in write_recv:
                data = session_message.message.model_dump_json(by_alias=True, exclude_unset=True).encode() + b"\n"
                transcript.write(b"> " + data)
                transcript.flush()
                await process.stdin.send(data)

    async with anyio.create_task_group() as tg:
        tg.start_soon(reader)
        tg.start_soon(writer)
        try:
            yield read_recv, write_send, process
        finally:
            await process.stdin.aclose()
            with anyio.move_on_after(10):
                await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()
            tg.cancel_scope.cancel()


class Provider:
    def __init__(self, spec):
        self.issuer = spec["issuer"].rstrip("/") if spec else None
        self.context = ssl.create_default_context(cafile=spec["ca_file"]) if spec and spec.get("ca_file") else None

    def _call(self, method, route, body=None):
        data = json.dumps(body or {}).encode() if method == "POST" else None
        request = urllib.request.Request(
            f"{self.issuer}/__test/{route}", method=method, data=data,
            headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, context=self.context, timeout=10) as r:
            return json.loads(r.read())

    def approve(self, user_code):
        self._call("POST", "device/approve", {"user_code": user_code})

    def clear(self):
        try:
            self._call("POST", "requests/clear")
        except OSError:
            pass  # the provider is down: served() says so

    def served(self):
        """The requests the provider served during the step; None when it is not running."""
        try:
            return [{"method": r["method"], "path": r["path"]} for r in self._call("GET", "requests")]
        except OSError:
            return None


def dump(model):
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


async def run(plan):
    out = {"steps": []}
    answers = list(plan.get("elicit") or [])
    asked = []

    async def elicitation(context, params):
        asked.append(dump(params))
        answer = answers.pop(0) if answers else "cancel"
        if answer in ("decline", "cancel"):
            return types.ElicitResult(action=answer)
        if getattr(params, "mode", None) == "url":
            if answer == "browse":
                env = dict(os.environ)
                if (plan.get("provider") or {}).get("ca_file"):
                    env["NODE_EXTRA_CA_CERTS"] = plan["provider"]["ca_file"]
                browser = Path(__file__).resolve().parents[1] / "e2e" / "browser.mjs"
                # In the background: the server waits for the browser only after this answer.
                browsers.append(subprocess.Popen(["node", str(browser), params.url], env=env,
                                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            elif answer == "accept":
                pass  # accepted, and the person never signs in
            elif answer == "approve_code":
                code = urllib.parse.parse_qs(urllib.parse.urlparse(params.url).query)["user_code"][0]
                provider.approve(code)
            return types.ElicitResult(action="accept")
        return types.ElicitResult(action="accept", content={"decision": answer})

    provider = Provider(plan.get("provider"))
    browsers = []
    with open(plan["transcript"], "ab") as transcript, open(plan["stderr"], "ab") as errlog:
        async with logged_stdio(plan["command"], {**os.environ, **plan["env"]}, transcript, errlog) as (read, write, process):
            session = ClientSession(
                read, write, read_timeout_seconds=60,
                elicitation_callback=elicitation if plan.get("elicit") is not None else None,
                client_info=types.Implementation(name=plan["client_name"], version="1.0"),
            )
            async with session:
                try:
                    init = await session.initialize()
                except Exception as e:  # the server refused the session: report why
                    out["initialize_error"] = str(e)
                    return out
                out["initialize"] = dump(init)
                for step in plan["steps"]:
                    provider.clear()
                    asked.clear()
                    if step.get("list_tools"):
                        result = await session.list_tools()
                        record = {"tools": [dump(t) for t in result.tools]}
                    else:
                        result = None
                        # "cancel_after": the call is cancelled after that many seconds, as a
                        # person stopping the agent would (the SDK sends notifications/cancelled).
                        with anyio.move_on_after(step.get("cancel_after", 3600)):
                            result = await session.call_tool(step["tool"], step.get("args"))
                        record = {"cancelled": True} if result is None else {
                            "is_error": bool(result.is_error),
                            "text": "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text"),
                            "structured": result.structured_content,
                        }
                    record["elicitations"] = list(asked)
                    record["browsers"] = [b.wait(timeout=60) for b in browsers]
                    browsers.clear()
                    record["served"] = provider.served()
                    out["steps"].append(record)
        out["exit_code"] = process.returncode
    return out


def main():
    with open(sys.argv[1]) as f:
        plan = json.load(f)
    result = anyio.run(run, plan)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
