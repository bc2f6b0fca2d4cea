"""Video file names per layout, the mapping files, and the path safety rules (real files, real links)."""

import os

import pytest

from pipeline import paths

DATASETS = os.environ.get("VIDEOQA_SAMPLE_DATASETS", "/work/shared/datasets")
NEXT_MAPPING = os.path.join(DATASETS, "nextqa", "map_vid_vidorID.json")
MSVD_MAPPING = os.path.join(DATASETS, "msvd-qa", "youtube_mapping.txt")
needs_samples = pytest.mark.skipif(not os.path.isdir(DATASETS), reason=f"no sample data sets at {DATASETS}")


@pytest.mark.parametrize("layout, video_id, mapping, expected", [
    ("msvd_qa", "1", {"1": "-4wsuPCjDBc_5_15"}, "-4wsuPCjDBc_5_15.avi"),
    ("msrvtt_qa", "7010", None, "video7010.mp4"),
    ("tgif_qa", "tumblr_nk172bbdPI1u1lr18o1_250", None, "tumblr_nk172bbdPI1u1lr18o1_250.gif"),
    ("next_qa", "2574374895", {"2574374895": "1101/2574374895"}, "1101/2574374895.mp4"),
    ("how2qa", "NOuQuofjk44", None, "NOuQuofjk44.mp4"),
    ("generic", "12", None, "video12.mp4"),
    ("generic", "1", {"1": "clip_a"}, "clip_a.avi"),
])
def test_default_video_names_per_layout(tmp_path, layout, video_id, mapping, expected):
    locate = paths.VideoLocator(str(tmp_path), None, mapping, layout=layout)
    assert locate(video_id) == os.path.join(str(tmp_path), expected)


def test_layouts_named_through_a_mapping_need_it_unless_a_pattern_is_given(tmp_path):
    for layout, mapping_file in (("msvd_qa", "youtube_mapping.txt"), ("next_qa", "map_vid_vidorID.json")):
        with pytest.raises(ValueError, match=f"{layout} names its videos through {mapping_file}: pass it as "
                                             f"--video_mapping"):
            paths.VideoLocator(str(tmp_path), None, None, layout=layout)
    locate = paths.VideoLocator(str(tmp_path), "{video_id}.mp4", None, layout="next_qa")
    assert locate("2574374895") == os.path.join(str(tmp_path), "2574374895.mp4")
    with pytest.raises(ValueError, match="no video names for layout 'auto'"):
        paths.default_video_pattern("auto", False)


def test_activitynet_takes_whichever_extension_exists(tmp_path):
    (tmp_path / "v_both.webm").write_bytes(b"x")
    (tmp_path / "v_both.mkv").write_bytes(b"x")
    (tmp_path / "v_webm_only.webm").write_bytes(b"x")
    locate = paths.VideoLocator(str(tmp_path), None, None, layout="activitynet_qa")
    assert locate("both") == str(tmp_path / "v_both.mkv")  # .mp4, then .mkv, then .webm.
    assert locate("webm_only") == str(tmp_path / "v_webm_only.webm")
    with pytest.raises(ValueError, match=r"video file not found: none of v_absent.mp4, v_absent.mkv, "
                                         r"v_absent.webm is in --video_dir"):
        locate("absent")
    (tmp_path / "v_absent.mp4").write_bytes(b"x")
    with pytest.raises(ValueError, match="video file not found"):  # Each video is looked up once per worker.
        locate("absent")
    custom = paths.VideoLocator(str(tmp_path), "v_{video_id}.*", None, layout="generic")
    assert custom("absent") == str(tmp_path / "v_absent.mp4")


@needs_samples
def test_both_mapping_files_as_published():
    vidor = paths.read_mapping(NEXT_MAPPING)
    assert len(vidor) == 670 and vidor["2574374895"] == "1101/2574374895"
    youtube = paths.read_mapping(MSVD_MAPPING)
    assert len(youtube) == 1970 and youtube["1"] == "-4wsuPCjDBc_5_15"


def test_bad_mapping_files_name_the_problem(tmp_path):
    (tmp_path / "map.json").write_text('{"1": "0101/1",\n "2" "0101/2"}')
    with pytest.raises(ValueError, match=r"map.json: malformed JSON at line 2 column"):
        paths.read_mapping(str(tmp_path / "map.json"))
    (tmp_path / "list.json").write_text('["0101/1"]')
    with pytest.raises(ValueError, match=r"expected a JSON object \{video id: file name\}, got a list"):
        paths.read_mapping(str(tmp_path / "list.json"))
    (tmp_path / "nested.json").write_text('{"1": {"path": "0101/1"}}')
    with pytest.raises(ValueError, match="entry '1' maps to"):
        paths.read_mapping(str(tmp_path / "nested.json"))
    with pytest.raises(ValueError, match="file not found"):
        paths.read_mapping(str(tmp_path / "absent.json"))


def test_nested_folders_stay_confined(tmp_path):
    mapping = {"1": "0101/2909445186", "2": "../outside", "3": "0101/../../outside", "4": "/etc/passwd"}
    locate = paths.VideoLocator(str(tmp_path), None, mapping, layout="next_qa")
    assert locate("1") == os.path.join(str(tmp_path), "0101", "2909445186.mp4")
    for video_id in ("2", "3"):
        with pytest.raises(ValueError, match="escapes --video_dir"):
            locate(video_id)
    with pytest.raises(ValueError, match="is absolute"):
        locate("4")
    with pytest.raises(ValueError, match="'9' is not in --video_mapping"):
        locate("9")


@pytest.fixture
def linked_tree(tmp_path):
    """videos/ with links: to a file outside, to a folder outside, to a file inside; outside/ holds real files."""
    outside = tmp_path / "outside"
    (outside / "folder").mkdir(parents=True)
    (outside / "secret.mp4").write_bytes(b"not yours")
    (outside / "folder" / "clip.mp4").write_bytes(b"not yours either")
    videos = tmp_path / "videos"
    (videos / "real").mkdir(parents=True)
    (videos / "real" / "clip.mp4").write_bytes(b"yours")
    os.symlink(outside / "secret.mp4", videos / "escape.mp4")
    os.symlink(outside / "folder", videos / "linked_folder")
    os.symlink(videos / "real" / "clip.mp4", videos / "inside.mp4")
    return tmp_path


def test_links_outside_the_video_dir_are_refused(linked_tree):
    locate = paths.VideoLocator(str(linked_tree / "videos"), "{video_id}.mp4", None)
    for video_id in ("escape", "linked_folder/clip"):
        with pytest.raises(ValueError) as raised:
            locate(video_id)
        assert "links outside --video_dir" in str(raised.value)
        assert str(linked_tree / "outside") in str(raised.value)
    assert locate("inside") == str(linked_tree / "videos" / "inside.mp4")  # A link that stays inside.
    assert locate("real/clip") == str(linked_tree / "videos" / "real" / "clip.mp4")


def test_links_outside_are_followed_when_allowed(linked_tree):
    locate = paths.VideoLocator(str(linked_tree / "videos"), "{video_id}.mp4", None, allow_links_outside=True)
    assert locate("escape") == str(linked_tree / "videos" / "escape.mp4")
    assert locate("linked_folder/clip") == str(linked_tree / "videos" / "linked_folder" / "clip.mp4")
    with pytest.raises(ValueError, match="escapes --video_dir"):  # '..' is refused even so.
        locate("../outside/secret")


def test_a_video_dir_that_is_itself_a_link_is_fine(linked_tree):
    os.symlink(linked_tree / "videos", linked_tree / "videos_link")
    locate = paths.VideoLocator(str(linked_tree / "videos_link"), "{video_id}.mp4", None)
    assert locate("real/clip") == str(linked_tree / "videos_link" / "real" / "clip.mp4")
    with pytest.raises(ValueError, match="links outside --video_dir"):
        locate("escape")


def test_activitynet_extension_lookup_applies_the_link_rule(linked_tree):
    os.symlink(linked_tree / "outside" / "secret.mp4", linked_tree / "videos" / "v_leak.mp4")
    locate = paths.VideoLocator(str(linked_tree / "videos"), None, None, layout="activitynet_qa")
    with pytest.raises(ValueError, match="links outside --video_dir"):
        locate("leak")


def test_remote_video_dirs_have_no_links_to_check():
    locate = paths.VideoLocator("gs://bucket/videos/", None, None, layout="tgif_qa")
    assert locate("tumblr_x") == "gs://bucket/videos/tumblr_x.gif"
