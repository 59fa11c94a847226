// Copy buttons, confirmations before destructive actions, and feedback while a form submits.
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
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = "Copy"; }, 2000);
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
