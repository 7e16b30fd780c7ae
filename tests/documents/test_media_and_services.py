"""Images (EXIF, vision descriptions), audio (transcripts) and LlamaParse with its local fallback."""

from __future__ import annotations

import time

from autogen_core import Image
from autogen_core.models import ModelFamily, ModelInfo
from autogen_ext.models.replay import ReplayChatCompletionClient

from omne_core.config import DocumentSettings, OmneSettings
from omne_core.config.documents import TranscriberSettings
from omne_core.documents import NO_TRANSCRIBER, DocumentKind, OpenAITranscriber, SectionKind, convert_file
from tests.support.servers import free_port, json_server

from . import builders

VISION = ModelInfo(vision=True, function_calling=False, json_output=False, family=ModelFamily.UNKNOWN,
                   structured_output=False)  # fmt: skip


async def test_image_metadata_and_gps_exif(tmp_path, settings):
    doc = await convert_file(builders.make_jpeg_with_gps(tmp_path / "photo.jpg"), settings)
    assert doc.kind is DocumentKind.IMAGE and doc.mime_type == "image/jpeg"
    assert "64×48 pixels" in doc.text
    assert "Image Make: OmneCam" in doc.text
    assert doc.metadata["exif"]["GPS decimal"] == "48.858194, 2.294444"
    assert doc.metadata["described"] is False


async def test_image_description_from_a_vision_client(tmp_path, settings):
    client = ReplayChatCompletionClient(["A red rectangle with the word STOP."], model_info=VISION)
    doc = await convert_file(builders.make_png(tmp_path / "sign.png", (255, 0, 0)), settings, vision_client=client)
    assert "Description (vision model):\nA red rectangle with the word STOP." in doc.text
    assert doc.metadata["described"] is True
    sent = client.create_calls[0]["messages"][0].content
    assert isinstance(sent[1], Image) and sent[1].image.size == (32, 32)


async def test_blind_client_leaves_metadata_and_says_why(tmp_path, settings):
    client = ReplayChatCompletionClient(["never used"])  # vision=False
    doc = await convert_file(builders.make_png(tmp_path / "x.png"), settings, vision_client=client)
    assert "32×32 pixels" in doc.text
    assert "does not accept images" in doc.metadata["description_error"]
    assert client.create_calls == []


async def test_audio_without_transcriber_says_so(tmp_path, settings):
    doc = await convert_file(builders.make_wav(tmp_path / "beep.wav", seconds=0.5), settings)
    assert doc.kind is DocumentKind.AUDIO
    assert "duration 0.5 s" in doc.text
    assert f"No transcript: {NO_TRANSCRIBER}." in doc.text
    assert doc.metadata["transcript_status"] == NO_TRANSCRIBER


async def test_audio_transcript_from_an_openai_compatible_endpoint(tmp_path, settings):
    def route(method, path, body):
        if method == "POST" and path == "/v1/audio/transcriptions" and b"RIFF" in body and b"whisper-local" in body:
            return 200, {"text": "the meeting starts at nine"}
        return 400, {"error": {"message": "bad request"}}

    with json_server(route) as (url, seen):
        transcriber = OpenAITranscriber("whisper-local", base_url=f"{url}/v1", api_key="k")
        doc = await convert_file(builders.make_wav(tmp_path / "memo.wav"), settings, transcriber=transcriber)
    assert "Transcript:\nthe meeting starts at nine" in doc.text
    assert doc.metadata["transcribed"] is True and len(seen) == 1
    assert [s.kind for s in doc.sections] == [SectionKind.AUDIO]


async def test_transcriber_from_settings_unreachable_fails_fast_without_losing_metadata(tmp_path):
    port = free_port()
    settings = OmneSettings(documents=DocumentSettings(
        transcriber=TranscriberSettings(model="whisper-1", base_url=f"http://127.0.0.1:{port}/v1", api_key="k")))  # fmt: skip
    started = time.monotonic()
    doc = await convert_file(builders.make_wav(tmp_path / "memo.wav"), settings)
    assert time.monotonic() - started < 10
    assert doc.metadata["transcript_status"].startswith("transcription failed")
    assert "duration" in doc.text


async def test_llama_parse_unreachable_falls_back_to_local_fast(tmp_path):
    port = free_port()
    settings = OmneSettings(
        llama_cloud_api_key="llx-test",
        documents=DocumentSettings(llama_parse_base_url=f"http://127.0.0.1:{port}", per_file_timeout_s=60),
    )
    pdf = builders.make_pdf(tmp_path / "a.pdf", ["one", "local text on page two"])
    started = time.monotonic()
    doc = await convert_file(pdf, settings)
    assert time.monotonic() - started < 10
    assert doc.metadata["parser"] == "local"
    assert "unreachable" in doc.metadata["llama_parse_fallback"]
    assert any("LlamaParse failed" in w for w in doc.warnings)
    assert "local text on page two" in doc.sections[1].text


async def test_llama_parse_success_through_a_local_llamacloud(tmp_path):
    def route(method, path, body):
        if method == "POST" and path.startswith("/api/parsing/upload"):
            return 200, {"id": "job-1", "status": "PENDING"}
        if path.startswith("/api/parsing/job/job-1/result/json"):
            return 200, {"pages": [{"page": 1, "md": "# Cover", "text": "Cover"},
                                   {"page": 2, "md": "| a | b |\n|---|---|\n| 1 | 2 |", "text": "a b"}],
                         "job_metadata": {"job_pages": 2}}  # fmt: skip
        if path.startswith("/api/parsing/job/job-1"):
            return 200, {"id": "job-1", "status": "SUCCESS"}
        return 404, {"detail": "not found"}

    pdf = builders.make_pdf(tmp_path / "a.pdf", ["one", "two"])
    with json_server(route) as (url, seen):
        settings = OmneSettings(llama_cloud_api_key="llx-test", documents=DocumentSettings(llama_parse_base_url=url))
        doc = await convert_file(pdf, settings)
    assert doc.metadata["parser"] == "llama-parse"
    assert [(s.kind, s.index) for s in doc.sections] == [(SectionKind.PAGE, 1), (SectionKind.PAGE, 2)]
    assert "| 1 | 2 |" in doc.sections[1].text
    assert any(path.startswith("/api/parsing/upload") for _, path, _ in seen)


async def test_spreadsheets_stay_local_even_with_a_key(tmp_path):
    port = free_port()
    settings = OmneSettings(llama_cloud_api_key="llx", documents=DocumentSettings(llama_parse_base_url=f"http://127.0.0.1:{port}"))
    doc = await convert_file(builders.make_xlsx(tmp_path / "a.xlsx"), settings)
    assert "llama_parse_fallback" not in doc.metadata and "[fill #FF0000 red]" in doc.text
