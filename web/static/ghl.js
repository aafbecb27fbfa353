// Talking to the GHL parent frame and to our SSO endpoint (ghl-api.md, "SSO for custom pages").
const SSO_WAIT_MS = 3000;

export function requestUserData() {
  return new Promise((resolve) => {
    if (window.parent === window) {
      resolve(null); // opened directly, not inside GHL
      return;
    }
    const onMessage = (event) => {
      const data = event.data;
      if (event.source !== window.parent || !data || data.message !== "REQUEST_USER_DATA_RESPONSE") return;
      cleanup();
      resolve(typeof data.payload === "string" ? data.payload : null);
    };
    const timer = setTimeout(() => {
      cleanup();
      resolve(null);
    }, SSO_WAIT_MS);
    const cleanup = () => {
      clearTimeout(timer);
      window.removeEventListener("message", onMessage);
    };
    window.addEventListener("message", onMessage);
    window.parent.postMessage({ message: "REQUEST_USER_DATA" }, "*");
  });
}

export class ApiError extends Error {
  constructor(error, status) {
    super(error.message || error.code);
    this.code = error.code;
    this.status = status;
    this.error = error;
  }
}

export async function postSso(payload, locationId) {
  let response;
  try {
    response = await fetch("/app/sso", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(locationId ? { payload, location_id: locationId } : { payload }),
      credentials: "omit",
    });
  } catch (_e) {
    throw new ApiError({ code: "network" }, 0);
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(body.error || { code: "generic" }, response.status);
  return body;
}
