"""The load benchmark's Streamlit client reads a run the way the frontend does (no server needed)."""

import asyncio

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from benchmarks.st_client import FINISHED, Session


class FakeSocket:
    """A WebSocket that answers each sent BackMsg with the next scripted list of ForwardMsgs."""

    def __init__(self, runs):
        self.runs, self.sent, self.inbox = list(runs), [], []

    async def send(self, data):
        msg = BackMsg()
        msg.ParseFromString(data)
        self.sent.append(msg)
        self.inbox += [m.SerializeToString() for m in self.runs.pop(0)]

    async def recv(self):
        return self.inbox.pop(0)


def _new_session(page_hash="h-case"):
    m = ForwardMsg()
    m.new_session.page_script_hash = page_hash
    p = m.new_session.app_pages.add()
    p.page_script_hash, p.url_pathname = "h-case", "case"
    return m


def _heading(path, text):
    m = ForwardMsg()
    m.metadata.delta_path.extend(path)
    m.delta.new_element.heading.body = text
    return m


def _button(path, label, wid):
    m = ForwardMsg()
    m.metadata.delta_path.extend(path)
    m.delta.new_element.button.label = label
    m.delta.new_element.button.id = wid
    return m


def _finished(status):
    m = ForwardMsg()
    m.script_finished = status
    return m


def test_a_run_is_read_to_its_end_and_a_run_cut_short_for_a_rerun_is_replaced_by_the_next():
    ok, early = FINISHED.FINISHED_SUCCESSFULLY, FINISHED.FINISHED_EARLY_FOR_RERUN
    sock = FakeSocket(
        [
            [_new_session(), _heading([0, 0], "Case #7"), _button([0, 1], "Record decision", "w1"), _finished(ok)],
            # pressing the button: the callback changes the query, the run ends early, the next run draws case 8
            [
                _new_session(),
                _heading([0, 0], "Case #7"),
                _finished(early),
                _new_session(),
                _heading([0, 0], "Case #8"),
                _finished(ok),
            ],
        ]
    )
    s = Session("http://localhost:1")
    s.ws = sock

    async def go():
        first = await s.rerun(query="case=7", page="case")
        second = await s.press("Record decision")
        return first, second

    first, second = asyncio.run(go())
    assert first.headings() == ["Case #7"] and first.button("Record decision").id == "w1"
    assert second.headings() == ["Case #8"]
    sent = sock.sent[1].rerun_script
    assert sent.query_string == "case=7" and sent.page_script_hash == "h-case"
    assert [(w.id, w.trigger_value) for w in sent.widget_states.widgets] == [("w1", True)]
