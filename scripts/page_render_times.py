#!/usr/bin/env python3
# Usage: .venv/bin/mesoclinic demo --if-empty && .venv/bin/python scripts/page_render_times.py var
# (needs the dev dependencies: make test installs them).
"""Server render time of each page on the demo clinic (TestClient in-process; median and p90 of 10)."""
import json, re, statistics, time, sys
from pathlib import Path
from fastapi.testclient import TestClient
from mesoclinic.app import create_app
from mesoclinic.settings import Settings

var = Path(sys.argv[1])
logins = {l["role"] + ":" + l["email"]: l for l in json.loads((var / "demo-logins.json").read_text())}
settings = Settings(var_dir=var)
app = create_app(settings)

def login(client, email, password):
    form = client.get("/login", headers={"accept": "text/html"})
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    r = client.post("/login", data={"email": email, "password": password, "csrf_token": token, "next": "/"}, headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303, r.text[:300]

def measure(client, path):
    times = []
    status = None
    for _ in range(10):
        t = time.perf_counter()
        r = client.get(path, headers={"accept": "text/html"})
        times.append((time.perf_counter() - t) * 1000)
        status = r.status_code
    times.sort()
    return status, round(statistics.median(times), 1), round(times[8], 1)

hart = next(v for k, v in logins.items() if "dr.hart" in k)
patient = next(v for k, v in logins.items() if k.startswith("patient:"))
rows = []
with TestClient(app) as staff:
    login(staff, hart["email"], hart["password"])
    pages = ["/today", "/", "/patients/2", "/patients/3", "/patients/2/consultation/intake", "/patients/2/consultation/screening", "/patients/6/consultation/assessment", "/patients/2/consultation/consent",
             "/sessions/1", "/calendar", "/calendar?practitioner=2", "/calendar/appointments/1", "/calendar/courses/1?appointment_type_id=2", "/aftercare", "/inventory", "/account/security",
             "/patients/2/photos", "/patients/2/photos?uploaded=2", "/patients/2/photos/compare", "/patients/2/photos/compare?before=1&after=2", "/patients/3/photos", "/patients/3/photos/consent"]
    for p in pages:
        rows.append(("practitioner", p, *measure(staff, p)))
admin = next(v for k, v in logins.items() if k.startswith("admin:"))
with TestClient(app) as office:
    login(office, admin["email"], admin["password"])
    for p in ["/admin", "/admin/consent"]:
        rows.append(("admin", p, *measure(office, p)))
with TestClient(app) as portal:
    login(portal, patient["email"], patient["password"])
    for p in ["/portal", "/portal/intake", "/portal/aftercare", "/portal/book", "/portal/consent", "/portal/photos"]:
        rows.append(("patient", p, *measure(portal, p)))
with TestClient(app) as public:
    for p in ["/portal/about", "/suitability", "/login"]:
        rows.append(("public", p, *measure(public, p)))
print("| who | page | status | median ms | p90 ms |\n|---|---|---|---|---|")
for r in rows:
    print(f"| {r[0]} | `{r[1]}` | {r[2]} | {r[3]} | {r[4]} |")
