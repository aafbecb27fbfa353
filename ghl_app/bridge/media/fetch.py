"""The guarded attachment fetcher: reply attachments are user content (an agent can paste any URL
into GHL), so fetching them must not reach the app itself, the private network or the cloud
metadata address (issue 14, finding 1).

Every hop is resolved here, each address is vetted, and the connection goes to the vetted address
(the Host header and TLS server name keep the original name), so a DNS answer that changes
between the check and the connection (rebinding) cannot steer it elsewhere. Redirects are
followed by hand, few, each re-checked. One deadline covers the whole fetch and a size cap the
whole body, so a slow or endless answer ends in a clear refusal, never a held job slot.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_REDIRECTS = 3
MAX_ATTACHMENTS = 10
DEADLINE_SECONDS = 30.0
# GHL hosts the files agents attach on its own storage; those names are allowed as they are.
GHL_FILE_HOSTS = ("storage.googleapis.com", "msgsndr.com", "services.leadconnectorhq.com")


class AttachmentRefused(Exception):
    """A URL this app will not fetch (or post to); the reason is shown as the failure."""


def refused_reason(address: IpAddress) -> str | None:
    """Why an address may not be fetched, or None when it is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return refused_reason(mapped)
    if address.is_loopback:
        return "loopback address"
    if address.is_link_local:
        return "link-local address"
    if address.is_multicast:
        return "multicast address"
    if address.is_private:
        return "private address"
    if address.is_reserved or address.is_unspecified or not address.is_global:
        return "reserved address"
    return None


def literal_address(host: str) -> IpAddress | None:
    """The address a host names literally, in every form a resolver accepts (dotted, decimal
    `2130706433`, octal `0177.0.0.1`, hex), or None for a name."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        # inet_aton is the lenient parser resolvers use: it accepts the decimal, octal and hex
        # spellings that ip_address refuses.
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


@dataclass(frozen=True)
class FetchedFile:
    data: bytes
    mimetype: str
    filename: str


class AttachmentFetcher:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        allowed_hosts: tuple[str, ...] = GHL_FILE_HOSTS,
        max_bytes: int,
        deadline: float = DEADLINE_SECONDS,
        noun: str = "attachment",
    ) -> None:
        self._http = http
        self._noun = noun
        # Entries are names ("storage.googleapis.com") or name:port (tests name the fake GHL).
        self._allowed = {h.lower() for h in allowed_hosts}
        self.max_bytes = max_bytes
        self.deadline = deadline

    def _named(self, url: httpx.URL) -> bool:
        host = url.host.lower()
        return host in self._allowed or f"{host}:{url.port}" in self._allowed

    async def _vetted(self, url: httpx.URL) -> str:
        """The address to connect to for this URL, after checking it."""
        if url.scheme not in ("http", "https"):
            raise AttachmentRefused(
                f"only http and https {self._noun}s are allowed, not {url.scheme}"
            )
        if not url.host:
            raise AttachmentRefused(f"{self._noun} URL has no host")
        literal = literal_address(url.host)
        if literal is not None:
            addresses = [literal]
        else:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    url.host, url.port or 443, type=socket.SOCK_STREAM
                )
            except OSError as exc:
                raise AttachmentRefused(f"{self._noun} host {url.host} does not resolve") from exc
            addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if self._named(url):
            return str(addresses[0])
        for address in addresses:
            reason = refused_reason(address)
            if reason is not None:
                raise AttachmentRefused(f"{self._noun} host {url.host} is a {reason}")
        return str(addresses[0])

    async def post(
        self, raw_url: str, *, content: bytes, headers: dict[str, str]
    ) -> tuple[int, str]:
        """POST `content` to a user-given URL (an integrator's or agency's event webhook): the
        address vetted as for attachments, no redirect followed, one deadline, at most
        `max_bytes` of the answer read. Returns (status, the answer's first 500 characters)."""
        try:
            url = httpx.URL(raw_url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise AttachmentRefused(f"{self._noun} URL is not valid") from exc
        try:
            async with asyncio.timeout(self.deadline):
                request = await self._pinned(url, "POST", content=content, headers=headers)
                response = await self._http.send(request, stream=True, follow_redirects=False)
                try:
                    answer = b""
                    async for chunk in response.aiter_bytes():
                        answer += chunk
                        if len(answer) >= self.max_bytes:
                            break
                finally:
                    await response.aclose()
        except TimeoutError:
            raise AttachmentRefused(
                f"{self._noun} not answered within {self.deadline:.0f} seconds"
            ) from None
        return response.status_code, answer[: self.max_bytes].decode("utf-8", "replace")[:500]

    async def _pinned(
        self,
        url: httpx.URL,
        method: str,
        *,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Request:
        """A request to the vetted address of `url`, keeping its name for Host and TLS."""
        address = await self._vetted(url)
        target = url.copy_with(host=address)
        request = self._http.build_request(
            method,
            target,
            content=content,
            headers={**(headers or {}), "Host": url.netloc.decode("ascii")},
        )
        if url.scheme == "https":
            request.extensions["sni_hostname"] = url.host
        return request

    async def fetch(self, raw_url: str, *, budget: int | None = None) -> FetchedFile:
        """One file, within the deadline and `budget` bytes (default: the per-file cap)."""
        try:
            async with asyncio.timeout(self.deadline):
                return await self._fetch(raw_url, min(budget or self.max_bytes, self.max_bytes))
        except TimeoutError:
            raise AttachmentRefused(
                f"attachment not fetched within {self.deadline:.0f} seconds"
            ) from None

    async def _fetch(self, raw_url: str, cap: int) -> FetchedFile:
        try:
            url = httpx.URL(raw_url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise AttachmentRefused("attachment URL is not valid") from exc
        for _ in range(MAX_REDIRECTS + 1):
            request = await self._pinned(url, "GET")
            try:
                response = await self._http.send(request, stream=True, follow_redirects=False)
            except httpx.RemoteProtocolError as exc:
                # httpx parses a redirect's target even when not following it.
                if "location header" in str(exc):
                    raise AttachmentRefused("attachment redirected to an invalid URL") from exc
                raise
            try:
                if response.is_redirect:
                    location = response.headers.get("location", "")
                    try:
                        url = httpx.URL(urljoin(str(url), location))
                    except httpx.InvalidURL as exc:
                        raise AttachmentRefused("attachment redirected to an invalid URL") from exc
                    continue
                if response.status_code >= 400:
                    raise AttachmentRefused(f"attachment answered {response.status_code}")
                mimetype = response.headers.get("content-type", "application/octet-stream")
                mimetype = mimetype.split(";")[0].strip()
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > cap:
                        raise AttachmentRefused(f"attachment larger than {cap // 2**20} MB")
                    chunks.append(chunk)
                filename = url.path.rsplit("/", 1)[-1]
                return FetchedFile(b"".join(chunks), mimetype, filename)
            finally:
                await response.aclose()
        raise AttachmentRefused(f"attachment redirected more than {MAX_REDIRECTS} times")
