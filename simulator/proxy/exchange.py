"""One exchange through the proxy: its faults and exam, the upload, the relayed answer, and what
is kept of it (the client log, the HAR record)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import requests
from flask import Response, request

from simulator import har
from simulator.core.faults import Fault
from simulator.core.store import Store
from simulator.grading import client_log, exam, operations
from simulator.proxy.framing import CHUNK, JUDGED_BYTES, Sized, first_of_body, rest
from simulator.proxy.streams import quiet_body

CREDENTIAL = {"freefin": "Authorization", "kaspi": "X-API-Key"}


class Exchange:
    """One request and its answer, recorded once the answer is known (or, for an event
    stream, as soon as it opens)."""

    def __init__(self, api: str, store: Store, recorder: har.Recorder | None = None) -> None:
        self.api, self.store, self.recorder = api, store, recorder
        self.seq = recorder.next_seq() if recorder else 0
        self.started, self.began = time.time(), time.perf_counter()
        self.answered: float | None = None  # when the upstream's answer head came
        self.body, self.body_whole = first_of_body()
        self.operation = operations.match(api, request.method, request.path)
        self.operation_name = self.operation.name if self.operation else ""
        self.credential = request.headers.get(CREDENTIAL[api])
        self.path, self.method = request.path, request.method
        self.query = request.args.to_dict()
        self.url, self.pairs = request.url, list(request.args.items(multi=True))
        self.headers = dict(request.headers)
        self.situation: str | None = None
        self.cut = False

    def examined(self) -> Fault | None:
        """The exam's situation this request meets, as a fault (the event stream's cut:
        ``self.cut``)."""
        if not self.credential:
            return None
        situation = exam.next_situation(
            self.store,
            self.api,
            client_log.masked(self.credential),
            exam.kind_of(self.api, self.operation_name) if self.operation else None,
            # What was read of the body to judge: reading the rest here would take it from
            # the upstream, to which it is sent on as it arrives.
            exam.fingerprint(self.method, request.full_path, self.body),
        )
        if situation is None:
            return None
        self.situation = situation.name
        if not situation.fault:
            self.cut = True
            return None
        return Fault(path="", **situation.fault)

    def upload(self) -> Iterator[bytes] | Sized:
        """The request body, sent on as it arrives: with its length when the client gave one,
        else chunked; what was read of it to judge goes first."""
        if request.content_length is not None:
            return Sized(self.body, request.stream, request.content_length)
        return rest(self.body, request.stream)

    def finish(self, resp: Response, judged: bool) -> Response:
        self._record(resp.status_code, resp.headers, resp.get_data() if judged else None)
        # a dropped answer's body is never sent; any other the proxy made is recorded whole
        body = None if resp.direct_passthrough else resp.get_data()
        self._har(resp.status_code, resp.headers.items(), body, by_proxy=True)
        return resp

    def record_whole(self, up: requests.Response, body: bytes) -> None:
        encoded = up.headers.get("Content-Encoding", "identity") != "identity"
        self._record(up.status_code, up.headers, None if encoded else body, judged=True)
        self._har(up.status_code, up.headers.items(), None if encoded else body)

    def relay(self, up: requests.Response, stream: bool) -> Iterator[bytes]:
        if stream:
            self._record(up.status_code, up.headers, None)
        kept, whole = bytearray(), True
        try:
            chunks = quiet_body(up) if stream else up.raw.stream(CHUNK, decode_content=False)
            for chunk in chunks:
                if whole:
                    if len(kept) + len(chunk) <= JUDGED_BYTES:
                        kept += chunk
                    else:
                        whole = False
                yield chunk
        finally:
            up.close()
            encoded = up.headers.get("Content-Encoding", "identity") != "identity"
            answer = bytes(kept) if whole and not encoded else None
            if not stream:
                self._record(up.status_code, up.headers, answer, judged=True)
            self._har(up.status_code, up.headers.items(), answer, stream=stream)

    def _har(
        self,
        status: int,
        headers: Any,
        answer: bytes | None,
        stream: bool = False,
        by_proxy: bool = False,
    ) -> None:
        """The exchange as a HAR entry, when the proxy records."""
        if self.recorder is None:
            return
        ended = time.perf_counter()
        answered = self.answered or ended
        self.recorder.write(
            har.entry(
                seq=self.seq,
                started=self.started,
                method=self.method,
                url=self.url,
                query=self.pairs,
                request_headers=self.headers.items(),
                request_body=self.body if self.body_whole else None,
                status=status,
                response_headers=headers,
                response_body=answer,
                wait_s=answered - self.began,
                receive_s=ended - answered,
                stream=stream,
                by_proxy=by_proxy,
            )
        )

    def _record(
        self, status: int, headers: Any, answer: bytes | None, judged: bool = False
    ) -> None:
        if not self.credential:
            return
        response_problems = None
        if judged or answer is not None:
            response_problems = (
                self.operation.response_problems(status, headers.get("Content-Type", ""), answer)
                if self.operation and answer is not None
                else []
            )
        retry_after = headers.get("Retry-After")
        error = client_log.error_of(answer) if answer is not None and status >= 400 else None
        with self.store.tx() as tx:
            client_log.record(
                tx,
                api=self.api,
                client=client_log.masked(self.credential),
                method=self.method,
                path=self.path,
                query=self.query,
                headers=self.headers,
                body=self.body if self.body_whole else b"",
                body_judged=self.body_whole,
                status=status,
                retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
                error=error,
                at=time.time(),
                response_problems=response_problems,
                situation=self.situation,
            )
