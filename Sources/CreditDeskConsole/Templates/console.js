// Small helpers only; every action works without this file. Loaded from the same origin, as
// the Content-Security-Policy allows no inline script.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) event.preventDefault();
});

// The compose form's live count: characters, segments (GSM 7-bit: 160, or 153 per part;
// otherwise UCS-2: 70, or 67 per part), or one MMS credit once a media URL is given. The
// alphabets come from the server, which prices the message in the end.
function countSegments(text, basic, extended) {
  let septets = 0;
  for (const character of text) {
    if (basic.has(character)) septets += 1;
    else if (extended.has(character)) septets += 2;
    else {
      const units = text.length;
      return { characters: units, segments: units <= 70 ? 1 : Math.ceil(units / 67) };
    }
  }
  return { characters: septets, segments: septets <= 160 ? 1 : Math.ceil(septets / 153) };
}

// Credits per segment for a number: the longest prefix in the reseller's rates, else 1 at
// home; null when the number is typed but nothing prices it.
function rateFor(number, rates, home) {
  const digits = number.replace(/\D/g, "");
  for (let length = Math.min(6, digits.length); length > 0; length -= 1) {
    const rate = rates[digits.slice(0, length)];
    if (rate) return rate;
  }
  return digits === "" || (home && digits.startsWith(home)) ? 1 : null;
}

document.querySelectorAll("textarea[data-counter]").forEach((area) => {
  const output = document.getElementById(area.dataset.counter);
  const basic = new Set(area.dataset.gsm), extended = new Set(area.dataset.gsmExtended);
  const rates = JSON.parse(area.dataset.rates || "{}"), home = area.dataset.home;
  const media = document.querySelector("textarea[data-media]");
  const to = area.form.querySelector("[name=to]");
  const update = () => {
    if (media && media.value.trim() !== "") {
      output.textContent = output.dataset.mmsNote;
      return;
    }
    const count = countSegments(area.value, basic, extended);
    const rate = rateFor(to ? to.value : "", rates, home);
    const credits = rate === null ? output.dataset.noRate : `${count.segments * rate} ${output.dataset.credits}`;
    output.textContent = `${count.characters} ${output.dataset.characters} · ${count.segments} ${output.dataset.segments} · ${credits}`;
  };
  area.addEventListener("input", update);
  if (to) to.addEventListener("input", update);
  if (media) media.addEventListener("input", update);
  update();
});
