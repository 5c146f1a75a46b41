"""The console in a real Chromium, as people click it. Every step asserts what the page shows;
the first failure stops the run with its message (and a screenshot in SCREENS)."""
import csv
import io
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

BASE = os.environ["BASE"]
SCREENS = os.environ["SCREENS"]
PASSWORD = os.environ["PASSWORD"]
CLIENT = os.environ["CLIENT"]
RIVAL_CLIENT = os.environ["RIVAL_CLIENT"]
GATEWAY, GATEWAY_TOKEN = os.environ["GATEWAY"], os.environ["GATEWAY_TOKEN"]
KANNEL_DIR = os.environ["KANNEL_DIR"]


def browser():
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1440,900"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def shoot(driver, name):
    """The page at 1440 and at 375 px wide."""
    for width, height in ((1440, 900), (375, 800)):
        driver.set_window_size(width, height)
        driver.save_screenshot(f"{SCREENS}/{name}-{width}.png")
    driver.set_window_size(1440, 900)


def expect(condition, message, driver=None):
    if not condition:
        if driver is not None:
            driver.save_screenshot(f"{SCREENS}/FAILED.png")
        sys.exit(f"console: FAILED: {message}")
    print(f"ok  {message}")


def shows(driver, text, seconds=10):
    """Whether the page comes to show `text` (a click's navigation may still be under way)."""
    try:
        WebDriverWait(driver, seconds).until(lambda d: text in d.page_source)
        return True
    except TimeoutException:
        return False


def sign_in(driver, email, password=PASSWORD):
    driver.delete_all_cookies()
    driver.get(f"{BASE}/console")
    driver.find_element(By.NAME, "email").send_keys(email)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()


def submit(element):
    """Clicks the submit button of the form `element` is in."""
    element.find_element(By.XPATH, "ancestor::form").find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def until(driver, path, condition, seconds=45):
    """Reloads `path` until `condition(page_source)` holds (a message on its way)."""
    try:
        WebDriverWait(driver, seconds, poll_frequency=1).until(
            lambda d: d.get(f"{BASE}{path}") or condition(d.page_source))
        return True
    except TimeoutException:
        return False


def delivered_to_smsc(*texts, seconds=15):
    """Whether Kannel's fake SMSC logged every one of `texts` (its log is written in bursts, so
    it may lag the delivery report)."""
    deadline = time.monotonic() + seconds
    while True:
        with open(f"{KANNEL_DIR}/fakesmsc.out", encoding="utf-8", errors="replace") as log:
            seen = log.read()
        if all(text in seen for text in texts) or time.monotonic() > deadline:
            return all(text in seen for text in texts)
        time.sleep(0.2)


def clients_row(driver, name):
    driver.get(f"{BASE}/console/clients")
    for row in driver.find_elements(By.CSS_SELECTOR, "table.clients tbody tr"):
        cells = [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        if cells and cells[0] == name:
            return cells
    return None


def reseller_admin(driver):
    driver.get(f"{BASE}/console")
    expect(driver.current_url.endswith("/console/sign-in"), "a signed-out visitor is sent to sign in", driver)
    shoot(driver, "sign-in")
    sign_in(driver, "rita@acme.example")
    expect(shows(driver, "SMS used this month"), "the reseller admin signs in to the dashboard", driver)
    shoot(driver, "dashboard")
    row = clients_row(driver, "Harbour Dental")
    expect(row is not None and row[1] == "2,500" and row[3] == "0", "Clients lists Harbour Dental: 2,500 SMS, 0 MMS", driver)
    shoot(driver, "clients")

    driver.find_element(By.LINK_TEXT, "Harbour Dental").click()
    expect(shows(driver, "Add or remove credits"), "the client's page offers Add/Remove Credits", driver)
    mms = driver.find_element(By.CSS_SELECTOR, "input[name=feature][value=mms]")
    mms.click()
    mms.find_element(By.XPATH, "ancestor::form").find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    expect(shows(driver, "Permissions saved: Campaigns, Enable MMS"), "Settings → Permissions → Enable MMS → Save", driver)

    driver.find_element(By.CSS_SELECTOR, "select[name=unit] option[value=mms]").click()
    driver.find_element(By.NAME, "amount").send_keys("7")
    driver.find_element(By.NAME, "reason").send_keys("first MMS credits")
    # A double click: the same form, with its one-time key, sent twice before any answer.
    driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const form = document.querySelector('button[value=add]').form;
        const send = () => { const data = new URLSearchParams(new FormData(form)); data.append('direction', 'add');
            return fetch(form.action, {method: 'POST', body: data, redirect: 'manual', credentials: 'same-origin'}); };
        Promise.all([send(), send()]).then(() => done(), () => done());
    """)
    driver.get(f"{BASE}/console/clients/{CLIENT}")
    expect(shows(driver, "Added 7 MMS credits"), "Add Credits: 7 MMS, with a reason", driver)
    shoot(driver, "client")
    gateway_limits(driver)
    row = clients_row(driver, "Harbour Dental")
    expect(row is not None and row[3] == "7", "the MMS Credits column shows 7: the doubled submission applied once", driver)

    inbound = f"{BASE}/v1/callbacks/twilio/{GATEWAY}/inbound?token={GATEWAY_TOKEN}"
    form = "MessageSid=MM1&From=%2B64217770000&To=%2B6421000000&Body=photo&NumMedia=1&MediaUrl0=https%3A%2F%2Fexample.com%2Fa.jpg"
    urllib.request.urlopen(urllib.request.Request(inbound, data=form.encode(), method="POST")).read()
    driver.get(f"{BASE}/console")
    counter = driver.find_element(By.XPATH, "//span[text()='MMS used this month']/following-sibling::span").text
    expect(counter == "1", "the MMS-used counter shows the MMS the client received", driver)

    driver.find_element(By.LINK_TEXT, "Packages").click()
    for name, value in (("name", "Starter 500"), ("sms_credits", "500"), ("mms_credits", "20"), ("price", "49.90")):
        field = driver.find_element(By.CSS_SELECTOR, f"form.grid [name={name}]")
        field.clear()
        field.send_keys(value)
    submit(driver.find_element(By.CSS_SELECTOR, "form.grid [name=price]"))
    expect(shows(driver, "Package Starter 500 created") and "49.90 EUR" in driver.page_source,
           "Packages: a package with SMS and MMS credits and a price", driver)
    shoot(driver, "packages")
    for page in ("rates", "users", "ledger", "settings"):
        driver.get(f"{BASE}/console/{page}")
        expect(driver.find_elements(By.TAG_NAME, "h1"), f"the {page} page renders", driver)
        shoot(driver, page)

    driver.find_element(By.LINK_TEXT, "Usage").click()
    expect(shows(driver, "<svg class=\"chart\""), "Usage shows the chart of daily consumption", driver)
    shoot(driver, "usage")
    cookie = driver.get_cookie("creditdesk_session")["value"]
    link = driver.find_element(By.LINK_TEXT, "Download CSV").get_attribute("href")
    with urllib.request.urlopen(urllib.request.Request(link, headers={"Cookie": f"creditdesk_session={cookie}"})) as answer:
        rows = list(csv.reader(io.StringIO(answer.read().decode())))
    dental_mms = [row for row in rows[1:] if row[1] == "Harbour Dental" and row[3] == "mms"]
    expect(rows[0][:4] == ["account_id", "account_name", "period_start", "unit"] and dental_mms
           and sum(int(row[rows[0].index("received")]) for row in dental_mms) == 1,
           "the usage CSV downloads and parses: Harbour Dental received 1 MMS")
    forged = urllib.request.Request(
        f"{BASE}/console/clients/{CLIENT}/credits", method="POST",
        data=b"form_key=0c8f8f6e-7d8e-4f39-9a51-3f7f2c4b1a11&unit=sms&amount=5&reason=x&direction=add",
        headers={"Cookie": f"creditdesk_session={cookie}", "Content-Type": "application/x-www-form-urlencoded"})
    try:
        urllib.request.urlopen(forged)
        status = 200
    except urllib.error.HTTPError as error:
        status = error.code
    expect(status == 403, "a POST without the CSRF token is refused (403)")
    driver.get(f"{BASE}/console/clients/{RIVAL_CLIENT}")
    expect(shows(driver, "Not found"), "another tenant's client URL shows the 404 page", driver)
    shoot(driver, "not-found")
    driver.find_element(By.CSS_SELECTOR, "form.signout button").click()
    expect(shows(driver, "Sign in</h1>"), "Sign out", driver)


def gateway_limits(driver):
    """On the client's page: a connection's limits refused out of range in words, then saved."""
    def field(name):
        form = driver.find_element(By.XPATH, f"//input[@name='gateway_id'][@value='{GATEWAY}']/ancestor::form")
        return form.find_element(By.NAME, name)
    concurrency = field("max_concurrency")
    driver.execute_script("arguments[0].removeAttribute('max')", concurrency)
    concurrency.clear()
    concurrency.send_keys("300")
    submit(concurrency)
    expect(shows(driver, "must be between 1 and 256"), "a connection's limit out of range is refused in words", driver)
    driver.get(f"{BASE}/console/clients/{CLIENT}")
    expect(field("max_concurrency").get_attribute("value") == "16", "the refused limit changed nothing", driver)
    for name, value in (("max_concurrency", "4"), ("max_messages_per_second", "50")):
        field(name).clear()
        field(name).send_keys(value)
    submit(field("max_concurrency"))
    expect(shows(driver, "Limits of Twilio saved"), "Limits: 4 at once and 50 a second saved", driver)
    driver.get(f"{BASE}/console/clients/{CLIENT}")
    expect(field("max_concurrency").get_attribute("value") == "4"
           and field("max_messages_per_second").get_attribute("value") == "50",
           "the client's page shows the connection's new limits", driver)


def client_user(driver):
    sign_in(driver, "desk@harbour.example")
    expect(shows(driver, "SMS available"), "the client user sees its balances", driver)
    text = driver.page_source
    expect("Harbour Dental" in text, "the client user's dashboard is its account's", driver)
    expect("/console/clients" not in text, "a client user is offered no Clients page", driver)
    shoot(driver, "client-dashboard")
    compose_and_send(driver)
    campaign_from_csv(driver)
    languages(driver)


def compose_and_send(driver):
    driver.find_element(By.LINK_TEXT, "Compose").click()
    expect(shows(driver, "Compose a message"), "Compose opens", driver)
    text = "Your appointment is tomorrow at 10:00, deposit €20"
    to = driver.find_element(By.NAME, "to")
    to.send_keys("+447700900123")
    driver.find_element(By.NAME, "text").send_keys(text)
    counter = driver.find_element(By.ID, "counter").text
    expect(counter.endswith("no rate for this destination"), f"abroad without a rate, the count says so: {counter}", driver)
    to.clear()
    to.send_keys("+64217771234")
    counter = driver.find_element(By.ID, "counter").text
    expect(counter == f"{len(text) + 1} characters · 1 segment(s) · 1 SMS credits", f"the live count: {counter} (€ takes two septets)", driver)
    shoot(driver, "compose")
    submit(driver.find_element(By.NAME, "text"))
    expect(shows(driver, "Message to +64217771234 queued: 1 segment(s), 1 SMS credits"), "Send: queued, priced", driver)
    expect(until(driver, "/console/messages", lambda page: "badge delivered" in page),
           "the SMS went through Kannel and its delivery report marked it delivered", driver)
    expect(delivered_to_smsc("deposit"), "Kannel's fake SMSC received the text")
    shoot(driver, "messages")

    driver.get(f"{BASE}/console/compose")
    driver.find_element(By.NAME, "to").send_keys("+64215550000")
    driver.find_element(By.NAME, "text").send_keys("Hello again")
    submit(driver.find_element(By.NAME, "text"))
    # The refusal comes back as a new page: wait for it, as `shows` does, before reading it.
    shows(driver, 'id="compose-error"')
    error = driver.find_element(By.ID, "compose-error").text
    expect("has opted out" in error and driver.find_element(By.NAME, "text").get_attribute("value") == "Hello again",
           "an opted-out number is refused inline, the text kept", driver)


def campaign_from_csv(driver):
    path = os.path.abspath(f"{SCREENS}/recall.csv")
    with open(path, "w", encoding="utf-8") as file:
        file.write("name,mobile,email,consent\nAna Lopez,+64213000001,ana@example.com,yes\n"
                   "Ben Ng,+64213000002,,yes\nCy Tan,+64213000003,,no\nNo Phone,,x@example.com,yes\n")
    driver.find_element(By.LINK_TEXT, "Contacts").click()
    driver.find_element(By.NAME, "file").send_keys(path)
    driver.find_element(By.NAME, "new_list").send_keys("Recall")
    submit(driver.find_element(By.NAME, "file"))
    expect(shows(driver, "3 contacts imported, 1 rows rejected") and "Line 5: mobile: no mobile number" in driver.page_source,
           "CSV import: good rows imported, the bad row listed with its reason", driver)
    shoot(driver, "import")
    driver.find_element(By.LINK_TEXT, "Continue").click()
    expect(shows(driver, "Ana Lopez"), "the imported contacts are listed", driver)
    shoot(driver, "contacts")

    driver.find_element(By.LINK_TEXT, "Campaigns").click()
    form = driver.find_element(By.CSS_SELECTOR, "form[action='/console/campaigns']")
    form.find_element(By.NAME, "name").send_keys("Recall")
    form.find_element(By.XPATH, ".//option[starts-with(text(), 'Recall (3)')]").click()
    form.find_element(By.NAME, "template").send_keys("Hi {{first_name}}, time for your check-up")
    submit(form.find_element(By.NAME, "name"))
    expect(shows(driver, "Draft Recall created"), "a draft campaign from the imported list", driver)
    recipients = driver.find_element(By.CSS_SELECTOR, "[data-fact=recipients]").text
    expect(recipients == "2" and "no SMS consent (1)" in driver.page_source, "the quote: 2 recipients, 1 skipped", driver)
    shoot(driver, "campaign-draft")
    driver.find_element(By.CSS_SELECTOR, "form[action$='/test'] [name=to]").send_keys("+64219990000")
    submit(driver.find_element(By.CSS_SELECTOR, "form[action$='/test'] [name=to]"))
    expect(shows(driver, "Test sent to +64219990000"), "a test to one's own number", driver)
    terms = driver.find_element(By.NAME, "accept_terms")
    terms.click()
    submit(terms)
    expect(shows(driver, "Campaign confirmed: 2 recipients, 2 credits reserved"), "confirmed with the terms checkbox", driver)
    campaign = driver.current_url.replace(BASE, "")
    expect(until(driver, campaign, lambda page: page.count("badge delivered") == 2),
           "both recipients' results: delivered through Kannel", driver)
    expect(delivered_to_smsc("Hi Ana, time for your check-up", "Hi Ben,"), "each recipient got its own text")
    shoot(driver, "campaign")
    driver.get(f"{BASE}/console/opt-outs")
    expect(shows(driver, "+64215550000"), "Opt-outs lists the opted-out number", driver)
    shoot(driver, "opt-outs")


def languages(driver):
    driver.find_element(By.LINK_TEXT, "Settings").click()
    driver.find_element(By.CSS_SELECTOR, "select[name=language] option[value=nl]").click()
    submit(driver.find_element(By.NAME, "language"))
    expect(shows(driver, "Taal opgeslagen") and driver.find_elements(By.LINK_TEXT, "Berichten"),
           "Settings → Nederlands: the console speaks Dutch", driver)
    driver.get(f"{BASE}/console")
    expect(shows(driver, "SMS gebruikt deze maand"), "the dashboard in Dutch", driver)
    shoot(driver, "dashboard-nl")


def billing_staff(driver):
    sign_in(driver, "bea@acme.example")
    expect(shows(driver, "SMS used this month"), "billing staff sign in", driver)
    menu = [link.text for link in driver.find_elements(By.CSS_SELECTOR, "header nav a")]
    expect("Usage" in menu and "Ledger" in menu and "Packages" not in menu and "Users" not in menu,
           f"billing staff are offered usage and the ledger, not packages or users: {menu}", driver)
    driver.get(f"{BASE}/console/clients/{CLIENT}")
    expect(shows(driver, "Harbour Dental") and "Add or remove credits" not in driver.page_source,
           "a client's page shows billing staff its balances, without the credit forms", driver)
    driver.find_element(By.LINK_TEXT, "Ledger").click()
    expect(shows(driver, "+100,000 SMS"), "the ledger lists the reseller's grant", driver)


def throttling(driver):
    for attempt in range(5):
        sign_in(driver, "rita@acme.example", "wrong password")
        # Each refusal is on screen before the next try, so all five reached the server.
        expect(shows(driver, "the email or the password is wrong"), f"wrong password {attempt + 1} is refused in words", driver)
    sign_in(driver, "rita@acme.example")
    expect(shows(driver, "too many failed sign-ins"), "after 5 failures sign-in is throttled", driver)


driver = browser()
try:
    reseller_admin(driver)
    client_user(driver)
    billing_staff(driver)
    throttling(driver)
finally:
    driver.quit()
print("console: every flow passed in Chromium")
