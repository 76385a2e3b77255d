/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** Update server base URL; `?server=` overrides. */
  readonly VITE_EDGELOOP_SERVER?: string;
  /** The server's manifest-signing public key (base64); `?key=` overrides. Without one the demo trusts on first use. */
  readonly VITE_EDGELOOP_PUBLIC_KEY?: string;
  /** A token with scope `read` for the telemetry views and gate decisions (npm start passes one); `?token=` overrides. */
  readonly VITE_EDGELOOP_TOKEN?: string;
}
