"""A folder of Markdown posts with YAML front matter."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.errors import SourceError
from digest.models import Post
from digest.sources import load_posts

SITE = "https://site.example.com"


def load(folder: Path, site_url: str = SITE) -> list[Post]:
    return load_posts("markdown", folder.name, base_dir=folder.parent, site_url=site_url, timeout=5)


def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


@pytest.fixture
def posts(data_dir: Path) -> dict[str, Post]:
    return {post.title: post for post in load(data_dir / "markdown")}


def test_md_files_in_name_order_drafts_and_other_files_left_out(data_dir: Path) -> None:
    titles = [post.title for post in load(data_dir / "markdown")]
    assert titles == ["Dated by its file name", "Meal Breaks & Penalties", "Second post"]


def test_front_matter_fields_become_the_post(posts: dict[str, Post]) -> None:
    post = posts["Meal Breaks & Penalties"]
    assert post.url == post.id == f"{SITE}/blog/meal-breaks/"
    assert post.published == datetime(2026, 1, 30, 17, 0, tzinfo=UTC)
    assert post.summary == "Plan breaks before the shoot."
    assert post.image == f"{SITE}/images/meal-breaks.jpg"
    assert post.image_alt == "A crew eating lunch between setups"
    assert post.tags == ("Payroll", "Compliance")
    assert post.author == "FTV Consulting"


def test_the_body_is_rendered_and_sanitized(posts: dict[str, Post]) -> None:
    content = posts["Meal Breaks & Penalties"].content
    assert "<strong>penalties</strong>" in content
    assert f'<a href="{SITE}/checklists/meals/" rel="noopener">our checklist</a>' in content
    assert "<script" not in content and "alert" not in content


def test_missing_url_summary_and_image_are_derived(posts: dict[str, Post]) -> None:
    post = posts["Second post"]
    assert post.url == f"{SITE}/second-post/"
    assert post.published == datetime(2026, 1, 16, tzinfo=UTC)
    assert post.summary == "An opening paragraph long enough to become the summary."
    assert post.image == f"{SITE}/images/trainer.jpg"
    assert post.image_alt == "A trainer at a whiteboard"
    assert post.tags == ("Training", "Payroll")


def test_a_date_prefix_in_the_file_name_dates_the_post_and_leaves_the_slug(
    posts: dict[str, Post],
) -> None:
    post = posts["Dated by its file name"]
    assert post.published == datetime(2026, 1, 5, tzinfo=UTC)
    assert post.url == f"{SITE}/dated-by-name/"


def test_a_post_without_a_date_is_kept_undated(tmp_path: Path) -> None:
    write(tmp_path / "posts", "undated.md", "---\ntitle: Someday\n---\nText.\n")
    (post,) = load(tmp_path / "posts")
    assert post.published is None


def test_naive_datetimes_are_utc(tmp_path: Path) -> None:
    write(tmp_path / "posts", "a.md", "---\ntitle: A\ndate: 2026-01-02 10:30:00\n---\nText.\n")
    (post,) = load(tmp_path / "posts")
    assert post.published == datetime(2026, 1, 2, 10, 30, tzinfo=UTC)


def test_unicode_is_kept_and_a_title_is_text_as_written(tmp_path: Path) -> None:
    write(
        tmp_path / "posts",
        "unicode.md",
        '---\ntitle: "<b>动画</b> &amp; שלום 🎬 <script>x</script>"\n---\nمرحبا بالعالم\n',
    )
    (post,) = load(tmp_path / "posts")
    assert post.title == "<b>动画</b> &amp; שלום 🎬 <script>x</script>"
    assert post.summary == "مرحبا بالعالم"


def test_a_missing_folder_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"posts: no such folder"):
        load(tmp_path / "posts")


def test_broken_front_matter_is_an_error_naming_the_file_and_line(tmp_path: Path) -> None:
    write(tmp_path / "posts", "good.md", "---\ntitle: Good\n---\nFine.\n")
    write(tmp_path / "posts", "broken.md", "---\ntitle: Fine\ntags: [unclosed\n---\nBody\n")
    with pytest.raises(SourceError) as caught:
        load(tmp_path / "posts")
    message = str(caught.value)
    assert "broken.md" in message and "broken front matter" in message
    assert "line " in message and "\n" not in message


@pytest.mark.parametrize(
    ("front_matter", "complaint"),
    [
        ("date: next tuesday", "date is not a date"),
        ("date: 2026-02-30", "has an impossible date or time"),
        ("date: 2026-01-10T25:00:00", "has an impossible date or time"),
        ("title: [a, b]", "title must be text"),
        ("tags: {a: b}", "tags must be a list"),
    ],
)
def test_wrong_front_matter_values_are_errors_naming_the_file(
    tmp_path: Path, front_matter: str, complaint: str
) -> None:
    write(tmp_path / "posts", "post.md", f"---\n{front_matter}\n---\nBody\n")
    with pytest.raises(SourceError, match=rf"post\.md: front matter {complaint}"):
        load(tmp_path / "posts")


def test_without_a_url_or_site_url_the_error_says_what_to_set(tmp_path: Path) -> None:
    write(tmp_path / "posts", "post.md", "---\ntitle: T\n---\nBody\n")
    with pytest.raises(SourceError, match=r"no url in the front matter and no .* site_url"):
        load(tmp_path / "posts", site_url="")


def test_a_relative_url_without_a_site_url_is_an_error_naming_it(tmp_path: Path) -> None:
    write(tmp_path / "posts", "post.md", "---\ntitle: T\nurl: /blog/t/\n---\nBody\n")
    with pytest.raises(SourceError, match=r"post\.md: url '/blog/t/' is not an absolute"):
        load(tmp_path / "posts", site_url="")


def test_an_absolute_url_needs_no_site_url(tmp_path: Path) -> None:
    write(tmp_path / "posts", "post.md", "---\nurl: https://a.example.com/t/\n---\nBody\n")
    (post,) = load(tmp_path / "posts", site_url="")
    assert post.url == "https://a.example.com/t/"
    assert post.title == "Post"


def test_a_file_that_is_not_utf8_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "posts").mkdir()
    (tmp_path / "posts" / "latin.md").write_bytes(b"---\ntitle: caf\xe9\n---\n")
    with pytest.raises(SourceError, match=r"latin\.md: not UTF-8"):
        load(tmp_path / "posts")


def test_a_url_is_not_a_markdown_location(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="a markdown source is a folder"):
        load_posts(
            "markdown", "https://x.example.com/", base_dir=tmp_path, site_url=SITE, timeout=1
        )
