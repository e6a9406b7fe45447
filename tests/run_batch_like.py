"""A stand-in for `vllm run-batch -i REQUESTS -o RESULTS`: answers each request line in vLLM's output
format, in input order. Replies are schema-shaped JSON from the offline extractor (so they ground);
a paper whose title contains a fragment given with --fail gets vLLM's error line instead.

    python tests/run_batch_like.py -i requests-1.jsonl -o results-1.jsonl [--fail FRAGMENT]...
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fake_openai import completion, paper_in  # noqa: E402
from workbench.models.offline import extract  # noqa: E402


def answer(request: dict, failing: list[str]) -> dict:
    body = request["body"]
    title, abstract = paper_in(body)
    line = {"id": f"vllm-{uuid.uuid4().hex}", "custom_id": request["custom_id"],
            "response": {"status_code": 200, "request_id": f"vllm-batch-{uuid.uuid4().hex}", "body": None},
            "error": None}
    if any(fragment in title for fragment in failing):
        line["response"]["status_code"] = 400  # what vLLM writes for a request it could not run
        line["error"] = "This model's maximum context length is 4096 tokens."
    else:
        content = json.dumps(extract(title, abstract).model_dump())
        line["response"]["body"] = completion(body, content, completion_id=f"chatcmpl-{uuid.uuid4().hex}")
    return line


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-i", "--input-file", required=True)
    parser.add_argument("-o", "--output-file", required=True)
    parser.add_argument("--fail", action="append", default=[])
    args = parser.parse_args()
    with open(args.input_file, encoding="utf-8") as source, open(args.output_file, "w", encoding="utf-8") as out:
        for text in source:
            if text.strip():
                request = json.loads(text)
                assert request["method"] == "POST" and request["url"] == "/v1/chat/completions"
                out.write(json.dumps(answer(request, args.fail)) + "\n")


if __name__ == "__main__":
    main()
