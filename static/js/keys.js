// Copy buttons, confirmations before destructive actions, and feedback while a form submits.
// Its words come from Django's JavaScript catalogue (/jsi18n/), loaded before this file.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const field = document.querySelector(button.dataset.copy);
  field.select();
  try {
    await navigator.clipboard.writeText(field.value);
  } catch {
    document.execCommand("copy");
  }
  const label = button.textContent;
  button.textContent = gettext("Copied");
  setTimeout(() => { button.textContent = label; }, 2000);
});

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    return;
  }
  const submit = form.querySelector("button[type=submit]");
  if (submit && form.dataset.busy) {
    submit.disabled = true;
    submit.textContent = form.dataset.busy;
    form.setAttribute("aria-busy", "true");
  }
});
