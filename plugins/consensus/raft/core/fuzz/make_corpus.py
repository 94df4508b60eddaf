#!/usr/bin/env python3
"""Writes the seed corpus of raft_step_fuzz: a few realistic operation sequences per starting
role. Messages are encoded with `protoc --encode` from text format. Run from this directory:
    python3 make_corpus.py
"""
import os
import struct
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.join(HERE, "..", "..")

MESSAGES = {
    "append": 'type: MSG_APPEND from: 1 to: 0 term: 4 index: 5 log_term: 3 commit: 5 '
              'entries { term: 4 index: 6 data: "x" } entries { term: 4 index: 7 }',
    "append_conflict": 'type: MSG_APPEND from: 1 to: 0 term: 4 index: 4 log_term: 9 commit: 2',
    "heartbeat": 'type: MSG_HEARTBEAT from: 1 to: 0 term: 4 commit: 3 context: "abcdefgh"',
    "vote": 'type: MSG_VOTE from: 2 to: 0 term: 6 index: 9 log_term: 5',
    "prevote": 'type: MSG_PRE_VOTE from: 2 to: 0 term: 6 index: 9 log_term: 5',
    "vote_transfer": 'type: MSG_VOTE from: 2 to: 0 term: 6 index: 9 log_term: 5 transfer: true',
    "append_resp": 'type: MSG_APPEND_RESP from: 1 to: 0 term: 4 index: 6',
    "append_reject": 'type: MSG_APPEND_RESP from: 2 to: 0 term: 4 index: 5 reject: true '
                     'reject_hint: 2 log_term: 1',
    "hb_resp": 'type: MSG_HEARTBEAT_RESP from: 1 to: 0 term: 4 context: "\\001\\0\\0\\0\\0\\0\\0\\0"',
    "snapshot": 'type: MSG_SNAPSHOT from: 1 to: 0 term: 4 '
                'snapshot { index: 20 term: 4 conf { voters: 0 voters: 1 voters: 2 } }',
    "read_index": 'type: MSG_READ_INDEX from: 2 to: 0 term: 4 context: "\\007\\0\\0\\0\\0\\0\\0\\0"',
    "timeout_now": 'type: MSG_TIMEOUT_NOW from: 1 to: 0 term: 4',
    "garbage_ids": 'type: MSG_APPEND from: 77 to: 0 term: 4611686018427387904 index: 18446744073709551615',
}


def encode(text):
    return subprocess.run(
        ["protoc", "-I", PROTO_DIR, "--encode=nodus.raft.v1.Message", "raft.proto"],
        input=text.encode(), capture_output=True, check=True, cwd=PROTO_DIR).stdout


def step(name, forced=False):
    body = encode(MESSAGES[name])
    return bytes([1 if forced else 0]) + struct.pack("<H", len(body)) + body


TICK, PROPOSE, DRAIN, READ, COMPACT = bytes([2]), bytes([3, 5]), bytes([4]), bytes([5]), bytes([6])


def main():
    out = os.path.join(HERE, "corpus")
    os.makedirs(out, exist_ok=True)
    seqs = {
        "follower_append": bytes([0]) + step("append") + DRAIN + step("heartbeat") + DRAIN,
        "follower_conflict": bytes([0]) + step("append_conflict") + DRAIN + step("append") + DRAIN,
        "follower_snapshot": bytes([0]) + step("snapshot") + DRAIN + step("append") + DRAIN,
        "follower_votes": bytes([0]) + step("prevote") + step("vote") + DRAIN + TICK * 12 + DRAIN,
        "follower_read": bytes([0]) + step("heartbeat") + READ + DRAIN + TICK * 20 + DRAIN,
        "follower_timeout": bytes([0]) + step("heartbeat") + step("timeout_now") + DRAIN,
        "leader_replicate": bytes([1]) + PROPOSE + DRAIN + step("append_resp", True) + DRAIN
                            + step("append_reject", True) + DRAIN + step("hb_resp", True),
        "leader_read": bytes([1]) + READ + DRAIN + step("hb_resp", True) + step("read_index", True)
                       + DRAIN + TICK * 6,
        "leader_compact": bytes([1]) + PROPOSE + DRAIN + step("append_resp", True) + DRAIN
                          + COMPACT + bytes([8, 3]) + DRAIN + bytes([9, 10]) + DRAIN,
        "leader_transfer": bytes([1]) + bytes([7, 1]) + DRAIN + step("append_resp", True)
                           + step("vote_transfer", True) + DRAIN,
        "leader_lease": bytes([5]) + READ + DRAIN + TICK * 8 + DRAIN,
        "candidate": bytes([2]) + step("vote") + DRAIN + step("append") + DRAIN + TICK * 10,
        "garbage": bytes([1]) + step("garbage_ids") + step("garbage_ids", True) + DRAIN,
    }
    for name, data in seqs.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
