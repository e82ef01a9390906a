"""The web console on the broker's HTTP listener, driven in headless Chromium (Debian's chromium
and chromium-driver, through selenium) against the real binary: every page loads without a
browser console error; what confluent-kafka wrote shows on a topic's messages page (JSON pretty
printed, a transaction's COMMIT marker); a group's lag falls to zero as its consumer commits; a
message produced from the page is read back by kcat; the overview charts its counters; a topic
created, altered and deleted from the page is what the API says; a read-only console offers no
change. With CONSOLE_SCREENSHOTS=DIR each page is also saved there as a PNG (1280x900 window)."""

import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from confluent_kafka import Consumer, Producer
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from support import create_topics, unique, wait_until

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = os.environ.get("CONSOLE_SCREENSHOTS")


@pytest.fixture(scope="module")
def driver():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,900"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield browser
    browser.quit()


def start(broker_factory, *arguments):
    """A broker with its HTTP listener on a port the system chooses; returns it and the base URL."""
    running = broker_factory(extra_args=["--http-listen", "127.0.0.1:0", *arguments]).start()
    found = re.search(r"HTTP on http://(\S+): ", running.log())
    assert found, running.log()
    return running, f"http://{found.group(1)}"


def api(base, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + "/api/v1" + path, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


# -- the page ------------------------------------------------------------------------------

def quietly(read):
    """read() or None while the page is between renders."""
    try:
        return read()
    except (NoSuchElementException, StaleElementReferenceException):
        return None


def css(driver, selector):
    return driver.find_element(By.CSS_SELECTOR, selector)


def text_of(driver, selector):
    return quietly(lambda: css(driver, selector).text)


def rendered(driver):
    """The name of the page the console finished rendering (data-page of #app), else None."""
    return quietly(lambda: css(driver, "#app").get_attribute("data-page"))


def wait_for_page(driver, page, timeout=15):
    wait_until(lambda: rendered(driver) == page, timeout,
               lambda: f"page {rendered(driver)!r}, not {page!r}; error: {text_of(driver, '#error-text')!r}")


def open_page(driver, base, route, page):
    driver.get_log("browser")  # what earlier pages logged
    driver.get(f"{base}/#{route}")
    wait_for_page(driver, page)


def refreshed(driver, page):
    """Reloads the page's data (the Refresh button) and waits for it to render again."""
    def step():
        css(driver, "#refresh").click()
        wait_for_page(driver, page)
        time.sleep(0.2)
    return step


def no_console_errors(driver, where):
    severe = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert severe == [], f"browser console errors on {where}: {severe}"


def screenshot(driver, name):
    if SCREENSHOTS:
        os.makedirs(SCREENSHOTS, exist_ok=True)
        driver.save_screenshot(os.path.join(SCREENSHOTS, name + ".png"))


def rows(driver, selector):
    return quietly(lambda: driver.find_elements(By.CSS_SELECTOR, selector)) or []


# -- data written by real clients --------------------------------------------------------

ORDER = {"id": 1, "item": "book", "tags": ["paper", "used"], "price": 12.5}


def read_in_group(running, topic, group, count):
    """A consumer of `group` (manual commits) that has read at least `count` messages of
    `topic`; the consumer and what it read."""
    consumer = Consumer({"bootstrap.servers": running.bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                         "enable.auto.commit": False})
    consumer.subscribe([topic])
    read = []
    wait_until(lambda: len(read) >= count, 30, lambda: f"read {len(read)} of {count}",
               step=lambda: read.extend(m for m in consumer.consume(count, 0.2) if m.error() is None))
    return consumer, read


def seed(running):
    """A topic with keyed messages, headers, a JSON value and a committed transaction (so a
    COMMIT marker), read and committed by a group whose consumer then leaves."""
    topic, group = unique("console"), unique("console-group")
    create_topics(running, {topic: 1})
    producer = Producer({"bootstrap.servers": running.bootstrap, "client.id": "console-test"})
    producer.produce(topic, json.dumps(ORDER).encode(), key=b"order-1", partition=0,
                     headers=[("trace", b"abc"), ("source", b"test")])
    producer.produce(topic, b"plain text", key=b"order-2", partition=0, headers=[("n", b"2")])
    producer.produce(topic, b"no key", partition=0)
    assert producer.flush(30) == 0
    transactional = Producer({"bootstrap.servers": running.bootstrap, "transactional.id": unique("console-tx")})
    transactional.init_transactions(30)
    transactional.begin_transaction()
    transactional.produce(topic, b"tx-1", key=b"t1", partition=0)
    transactional.produce(topic, b"tx-2", key=b"t2", partition=0)
    transactional.commit_transaction(30)
    consumer, read = read_in_group(running, topic, group, 5)
    consumer.commit(read[-1], asynchronous=False)
    consumer.close()
    return topic, group


def messages(driver):
    """The rows of the messages table, read in one step (the table is replaced when it reloads)."""
    return driver.execute_script("""
        return Array.from(document.querySelectorAll('#messages-table tr[data-offset]'), (row) => ({
            offset: Number(row.dataset.offset), control: row.classList.contains('control'),
            key: row.querySelector('td.key').innerText, value: row.querySelector('td.value').innerText,
            format: (row.querySelector('td.value pre') || {dataset: {}}).dataset.format || null,
            headers: row.querySelector('td.headers').innerText,
            badges: Array.from(row.querySelectorAll('.badge'), (badge) => badge.innerText)}));""")


# -- tests ---------------------------------------------------------------------------------

def test_every_page_loads_without_console_errors(broker_factory, driver):
    running, base = start(broker_factory)
    topic, group = seed(running)
    # An open transaction for the transactions page, aborted at the end.
    transactional_id = unique("console-open-tx")
    open_tx = Producer({"bootstrap.servers": running.bootstrap, "transactional.id": transactional_id,
                        "client.id": "console-open-tx"})
    open_tx.init_transactions(30)
    open_tx.begin_transaction()
    open_tx.produce(topic, b"pending", partition=0)
    assert open_tx.flush(30) == 0

    # Each page, what it must show (the overview charts its polls; the transactions and
    # clients pages are refreshed until the open transaction and its producer appear).
    pages = [
        ("/", "overview", lambda: int(css(driver, "#overview-charts").get_attribute("data-samples")) >= 2, None),
        ("/topics", "topics", lambda: rows(driver, f'#topics-table tr[data-topic="{topic}"]'), None),
        (f"/topics/{topic}", "topic",
         lambda: rows(driver, '#partitions-table tr[data-partition="0"]') and rows(driver, "#configs-table tr[data-config]"), None),
        (f"/topics/{topic}/messages", "messages", lambda: len(messages(driver)) >= 6, None),
        ("/groups", "groups", lambda: rows(driver, f'#groups-table tr[data-group="{group}"]'), None),
        (f"/groups/{group}", "group", lambda: rows(driver, f'#group-offsets tr[data-topic="{topic}"]'), None),
        ("/transactions", "transactions",
         lambda: rows(driver, f'#transactions-table tr[data-transactional-id="{transactional_id}"]'),
         refreshed(driver, "transactions")),
        ("/clients", "clients", lambda: "console-open-tx" in (text_of(driver, "#clients-table") or ""), refreshed(driver, "clients")),
    ]
    for route, page, shows, step in pages:
        open_page(driver, base, route, page)
        wait_until(shows, 15, lambda: text_of(driver, "#app"), **({"step": step} if step else {}))
        screenshot(driver, page)
        no_console_errors(driver, page)

    open_tx.abort_transaction(30)
    assert running.stop() == 0


def test_messages_page_shows_what_clients_wrote(broker_factory, driver):
    running, base = start(broker_factory)
    topic, _ = seed(running)
    open_page(driver, base, f"/topics/{topic}", "topic")
    css(driver, "#messages-link").click()
    wait_for_page(driver, "messages")
    # Three plain records, two transactional ones and the COMMIT marker (written just after EndTxn).
    wait_until(lambda: len(messages(driver)) == 6, 10, lambda: messages(driver), step=refreshed(driver, "messages"))
    shown = messages(driver)
    assert [row["offset"] for row in shown] == [0, 1, 2, 3, 4, 5]
    by_key = {row["key"]: row for row in shown if not row["control"]}
    assert by_key["order-2"]["value"] == "plain text" and by_key["null"]["value"] == "no key"
    assert "trace: abc" in by_key["order-1"]["headers"] and "source: test" in by_key["order-1"]["headers"]
    assert [row["key"] for row in shown if "transactional" in row["badges"] and not row["control"]] == ["t1", "t2"]
    assert [(row["offset"], row["badges"][0]) for row in shown if row["control"]] == [(5, "COMMIT")]

    Select(css(driver, "#msg-show")).select_by_value("json")
    shown = messages(driver)
    assert (shown[0]["format"], shown[0]["value"]) == ("json", json.dumps(ORDER, indent=2))
    assert (shown[1]["format"], shown[1]["value"]) == ("text", "plain text")  # not JSON: shown as text
    Select(css(driver, "#msg-show")).select_by_value("hex")
    assert messages(driver)[1]["value"] == " ".join(f"{byte:02x}" for byte in b"plain text")

    # Seeking by offset.
    Select(css(driver, "#msg-seek")).select_by_value("offset")
    css(driver, "#msg-offset").send_keys("3")
    limit = css(driver, "#msg-limit")
    limit.clear()
    limit.send_keys("2")
    css(driver, "#msg-load").click()
    wait_until(lambda: [row["offset"] for row in messages(driver)] == [3, 4], 10, lambda: messages(driver))
    no_console_errors(driver, "the messages page")
    assert running.stop() == 0


def lag_of(driver, topic):
    return text_of(driver, f'#group-offsets tr[data-topic="{topic}"][data-partition="0"] td.lag')


def test_group_lag_goes_to_zero_as_the_consumer_commits(broker_factory, driver):
    running, base = start(broker_factory)
    topic, group = unique("lagging"), unique("lagging-group")
    producer = Producer({"bootstrap.servers": running.bootstrap})
    for index in range(20):
        producer.produce(topic, f"message {index}".encode(), partition=0)
    assert producer.flush(30) == 0
    consumer, read = read_in_group(running, topic, group, 20)
    consumer.commit(read[4], asynchronous=False)  # offset 5 committed: 15 behind

    open_page(driver, base, f"/groups/{group}", "group")
    wait_until(lambda: lag_of(driver, topic) == "15", 10, lambda: f"lag {lag_of(driver, topic)!r}",
               step=refreshed(driver, "group"))
    assert rows(driver, "#group-members tr[data-member]"), text_of(driver, "#group-members")
    assert not css(driver, "#reset-submit").is_enabled(), "offsets can be reset while the group has members"

    consumer.commit(read[-1], asynchronous=False)
    wait_until(lambda: lag_of(driver, topic) == "0", 10, lambda: f"lag {lag_of(driver, topic)!r}",
               step=refreshed(driver, "group"))
    assert text_of(driver, '#group-offsets tr[data-partition="0"] td.committed') == "20"
    no_console_errors(driver, "the group page")

    # Once the consumer left, the page resets the group to the earliest offset.
    consumer.close()
    wait_until(lambda: not rows(driver, "#group-members tr[data-member]") and quietly(
        lambda: css(driver, "#reset-submit").is_enabled()), 15, lambda: text_of(driver, "#app"),
        step=refreshed(driver, "group"))
    Select(css(driver, "#reset-to")).select_by_value("earliest")
    css(driver, "#reset-submit").click()
    wait_until(lambda: lag_of(driver, topic) == "20", 10, lambda: f"lag {lag_of(driver, topic)!r}")
    status, body = api(base, f"/groups/{group}")
    assert status == 200 and [o["committedOffset"] for o in body["offsets"]] == [0], body
    no_console_errors(driver, "the group page")
    assert running.stop() == 0


def test_a_message_produced_from_the_page_is_read_by_kcat(broker_factory, driver):
    running, base = start(broker_factory)
    topic = unique("from-page")
    create_topics(running, {topic: 1})
    open_page(driver, base, f"/topics/{topic}/messages", "messages")
    wait_until(lambda: rows(driver, "#messages-table"), 10, lambda: text_of(driver, "#app"))
    css(driver, "#produce-key").send_keys("page-key")
    css(driver, "#produce-value").send_keys("from the console")
    css(driver, "#produce-headers").send_keys("origin=console")
    css(driver, "#produce-submit").click()
    wait_until(lambda: messages(driver), 10,
               lambda: f"notice {text_of(driver, '#notice')!r}, error {text_of(driver, '#error-text')!r}")
    assert "offset 0" in text_of(driver, "#notice")
    [shown] = messages(driver)
    assert (shown["offset"], shown["key"], shown["value"], shown["headers"]) == (0, "page-key", "from the console",
                                                                                "origin: console")
    no_console_errors(driver, "the messages page")
    result = subprocess.run(["kcat", "-C", "-b", running.bootstrap, "-t", topic, "-o", "beginning", "-e", "-q",
                             "-f", "%k=%s|%h\n"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["page-key=from the console|origin=console"]
    assert running.stop() == 0


def test_overview_shows_the_broker_and_draws_charts(broker_factory, driver):
    running, base = start(broker_factory)
    status, overview = api(base, "/overview")
    assert status == 200
    open_page(driver, base, "/", "overview")
    assert text_of(driver, "#broker-node-id") == str(overview["broker"]["nodeId"]) == "1"
    assert text_of(driver, "#cluster-id") == overview["broker"]["clusterId"]
    producer = Producer({"bootstrap.servers": running.bootstrap})
    topic = unique("charted")

    def produce_and_wait():
        for index in range(50):
            producer.produce(topic, b"x" * 100, partition=0)
        producer.flush(10)
        time.sleep(0.3)

    samples = lambda: int(css(driver, "#overview-charts").get_attribute("data-samples") or 0)  # noqa: E731
    wait_until(lambda: samples() >= 3, 20, lambda: f"{samples()} samples", step=produce_and_wait)
    canvases = {canvas.get_attribute("id"): canvas for canvas in rows(driver, "#overview-charts canvas")}
    assert set(canvases) == {"chart-bytes", "chart-messages", "chart-latency"}
    assert int(canvases["chart-bytes"].get_attribute("data-points")) >= 2
    painted = driver.execute_script(
        "const c = arguments[0]; const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n;", canvases["chart-bytes"])
    assert painted > 500
    assert rows(driver, '#latency-table tr[data-api="Produce"]'), text_of(driver, "#latency-table")
    no_console_errors(driver, "the overview")
    assert running.stop() == 0


def config_of(base, topic, name):
    status, body = api(base, f"/topics/{topic}")
    assert status == 200, body
    return next((config for config in body["configs"] if config["name"] == name), None)


def test_create_alter_and_delete_a_topic_from_the_page(broker_factory, driver):
    running, base = start(broker_factory)
    topic = unique("made-here")
    open_page(driver, base, "/topics", "topics")
    css(driver, "#new-topic-name").send_keys(topic)
    partitions = css(driver, "#new-topic-partitions")
    partitions.clear()
    partitions.send_keys("3")
    css(driver, "#new-topic-configs").send_keys("cleanup.policy=compact\nretention.ms=3600000\n")
    css(driver, "#create-topic").click()
    wait_for_page(driver, "topic")
    assert driver.current_url.endswith(f"#/topics/{topic}")
    status, body = api(base, f"/topics/{topic}")
    assert status == 200 and len(body["partitions"]) == 3, body
    assert config_of(base, topic, "cleanup.policy") == {"name": "cleanup.policy", "value": "compact", "isDefault": False}

    row = css(driver, '#configs-table tr[data-config="retention.ms"]')
    row.find_element(By.CSS_SELECTOR, ".config-edit").click()
    field = row.find_element(By.CSS_SELECTOR, ".config-input")
    field.clear()
    field.send_keys("7200000")
    row.find_element(By.CSS_SELECTOR, ".config-save").click()
    wait_until(lambda: "Set retention.ms" in (text_of(driver, "#notice") or ""), 10,
               lambda: f"notice {text_of(driver, '#notice')!r}, error {text_of(driver, '#error-text')!r}")
    assert config_of(base, topic, "retention.ms") == {"name": "retention.ms", "value": "7200000", "isDefault": False}
    assert text_of(driver, '#configs-table tr[data-config="retention.ms"] td.config-value') == "7200000"

    css(driver, '#configs-table tr[data-config="cleanup.policy"] .config-reset').click()
    wait_until(lambda: "Reset cleanup.policy" in (text_of(driver, "#notice") or ""), 10,
               lambda: f"notice {text_of(driver, '#notice')!r}, error {text_of(driver, '#error-text')!r}")
    reset = config_of(base, topic, "cleanup.policy")
    assert reset is None or reset["isDefault"], reset
    no_console_errors(driver, "the topic page")

    css(driver, "#delete-topic").click()
    driver.switch_to.alert.accept()
    wait_for_page(driver, "topics")
    assert not rows(driver, f'#topics-table tr[data-topic="{topic}"]')
    assert api(base, f"/topics/{topic}")[0] == 404
    no_console_errors(driver, "the topics page")
    assert running.stop() == 0


MUTATING = "#create-topic-form, #delete-topic, .config-edit, .config-reset, #add-config-form, #produce-form, #reset-form"


def test_a_read_only_console_offers_no_changes(broker_factory, driver, tmp_path):
    properties = tmp_path / "server.properties"
    properties.write_text("http.console.read.only=true\n")
    running, base = start(broker_factory, "--config", str(properties))
    topic, group = seed(running)
    for route, page in (("/", "overview"), ("/topics", "topics"), (f"/topics/{topic}", "topic"),
                        (f"/topics/{topic}/messages", "messages"), (f"/groups/{group}", "group")):
        open_page(driver, base, route, page)
        if page == "messages":
            wait_until(lambda: messages(driver), 10, lambda: text_of(driver, "#app"))
        assert text_of(driver, "#read-only") == "read-only console"
        assert rows(driver, MUTATING) == [], f"{route} offers changes: {text_of(driver, '#app')}"
        no_console_errors(driver, route)
    status, body = api(base, "/topics", {"name": unique("refused"), "partitions": 1})
    assert (status, body["error"]) == (403, "READ_ONLY")
    assert running.stop() == 0


def test_a_console_reachable_from_elsewhere_is_read_only_unless_configured(broker_factory, tmp_path):
    """On a listener other than loopback the console refuses changes by default, and
    http.console.read.only=false allows them."""
    def started(*arguments):
        running = broker_factory(extra_args=["--http-listen", "0.0.0.0:0", *arguments]).start()
        found = re.search(r"HTTP on http://0\.0\.0\.0:(\d+): ", running.log())
        assert found, running.log()
        return running, f"http://127.0.0.1:{found.group(1)}"
    running, base = started()
    status, body = api(base, "/topics", {"name": unique("refused"), "partitions": 1})
    assert (status, body["error"]) == (403, "READ_ONLY")
    assert api(base, "/overview")[1]["http"]["readOnly"] is True
    assert running.stop() == 0
    properties = tmp_path / "server.properties"
    properties.write_text("http.console.read.only=false\n")
    running, base = started("--config", str(properties))
    topic = unique("allowed")
    assert api(base, "/topics", {"name": topic, "partitions": 1})[0] == 201
    assert topic in [entry["name"] for entry in api(base, "/topics")[1]["topics"]]
    assert running.stop() == 0
