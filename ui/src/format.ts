// Display formatting for times, durations and enum labels.
import type { BreakerState } from "./bindings/BreakerState";
import type { ConnectionState } from "./bindings/ConnectionState";

export const CONNECTION_LABEL: Record<ConnectionState, string> = {
  online: "Online",
  offline: "Offline",
  connecting: "Connecting…",
  auth_required: "Auth needed",
  paused: "Paused",
  disabled: "Sync disabled",
};

export const BREAKER_LABEL: Record<BreakerState, string> = {
  closed: "Breaker closed",
  open: "Breaker open",
  half_open: "Breaker half-open",
};

export function time(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "—";
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString() : d.toLocaleString();
}

export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const hrs = Math.floor(m / 60);
  return `${hrs}h ${m % 60}m`;
}
