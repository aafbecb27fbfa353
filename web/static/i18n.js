// Message catalogues (rendered into the page by the server) and the current language.
const STORAGE_KEY = "ghl-wa-locale";
let catalogues = { en: {} };
let current = "en";

export function initCatalogues(all) {
  catalogues = all;
}

export function currentLocale() {
  return current;
}

export function useLocale(locale) {
  current = catalogues[locale] ? locale : "en";
  return current;
}

export function t(key, vars) {
  const catalogue = catalogues[current] || {};
  let text = catalogue[key] ?? catalogues.en[key] ?? key;
  for (const [name, value] of Object.entries(vars || {})) {
    text = text.split(`{${name}}`).join(String(value));
  }
  return text;
}

export function matchLocale(tag) {
  const primary = String(tag || "").replace("_", "-").split("-")[0].toLowerCase();
  return Object.keys(catalogues).find((l) => l.split("-")[0].toLowerCase() === primary);
}

export function storedLocale() {
  try {
    return window.localStorage.getItem(STORAGE_KEY); // may be blocked in third-party frames
  } catch (_e) {
    return null;
  }
}

export function rememberLocale(locale) {
  try {
    window.localStorage.setItem(STORAGE_KEY, locale);
  } catch (_e) {
    /* storage blocked: the choice lasts for this visit */
  }
}

function knownError(error) {
  if (!error || !error.code) return null;
  const key = `error.${error.code}`;
  const known = t(key);
  return known !== key ? known : null;
}

// What the page says for an error {code, message}: the catalogue's text for its code, else a
// generic text in the page's language (never the server's English message on its own).
export function errorText(error) {
  if (!error) return "";
  return knownError(error) || t("error.generic");
}

// The server's own message when the code has no catalogue text: shown as a secondary detail
// (it is English), so a support request can quote it.
export function errorDetail(error) {
  if (!error || knownError(error) || !error.message) return "";
  return t("error.detail", { message: error.message });
}
