// Generated from src-tauri/src/commands/mod.rs by `cargo test -p latchkey-desktop bindings`.
// Do not edit by hand: set LATCHKEY_BLESS_BINDINGS=1 on that test to rewrite it.
import type { AboutDto } from "./AboutDto";
import type { AccountDetailDto } from "./AccountDetailDto";
import type { AccountDto } from "./AccountDto";
import type { AuditEntryDto } from "./AuditEntryDto";
import type { AuditFilterDto } from "./AuditFilterDto";
import type { ConnectFailedDto } from "./ConnectFailedDto";
import type { ConnectionChangeDto } from "./ConnectionChangeDto";
import type { ConnectionDto } from "./ConnectionDto";
import type { ConsentAnswerDto } from "./ConsentAnswerDto";
import type { ConsentRequestDto } from "./ConsentRequestDto";
import type { ExportDto } from "./ExportDto";
import type { ExportFormatDto } from "./ExportFormatDto";
import type { GrantDto } from "./GrantDto";
import type { HandoutPolicyDto } from "./HandoutPolicyDto";
import type { IdentityDto } from "./IdentityDto";
import type { KeychainDto } from "./KeychainDto";
import type { NewConnectionDto } from "./NewConnectionDto";
import type { PreferencesDto } from "./PreferencesDto";
import type { ProviderPageDto } from "./ProviderPageDto";
import type { RevokeDto } from "./RevokeDto";

/** Every command: its arguments (as `invoke` takes them) and its result. */
export type Commands = {
  list_connections: { args: Record<string, never>; result: Array<ConnectionDto> };
  configure_connection: { args: { connectionId: string; change: ConnectionChangeDto }; result: ConnectionDto };
  add_connection: { args: { connection: NewConnectionDto }; result: ConnectionDto };
  remove_connection: { args: { connectionId: string }; result: null };
  list_accounts: { args: Record<string, never>; result: Array<AccountDto> };
  get_account: { args: { accountId: string }; result: AccountDetailDto };
  connect: { args: { connectionId: string; identifier: string | null }; result: AccountDto };
  reopen_sign_in: { args: { accountId: string }; result: null };
  open_provider_page: { args: { connectionId: string; page: ProviderPageDto }; result: null };
  cancel_sign_in: { args: { accountId: string }; result: AccountDto };
  revoke: { args: { accountId: string }; result: RevokeDto };
  suspend_account: { args: { accountId: string }; result: AccountDto };
  resume_account: { args: { accountId: string }; result: AccountDto };
  test_account: { args: { accountId: string }; result: IdentityDto };
  set_labels: { args: { accountId: string; labels: Array<string> }; result: AccountDto };
  set_note: { args: { accountId: string; note: string | null }; result: AccountDto };
  set_handout_policy: { args: { accountId: string; policy: HandoutPolicyDto }; result: AccountDto };
  delete_account: { args: { accountId: string }; result: null };
  audit_trail: { args: { filter: AuditFilterDto }; result: Array<AuditEntryDto> };
  export_audit: { args: { filter: AuditFilterDto; format: ExportFormatDto }; result: ExportDto };
  keychain_status: { args: Record<string, never>; result: KeychainDto };
  get_preferences: { args: Record<string, never>; result: PreferencesDto };
  set_preferences: { args: { preferences: PreferencesDto }; result: PreferencesDto };
  about: { args: Record<string, never>; result: AboutDto };
  window_painted: { args: { accounts: number; renderMs: number; loadedMs: number }; result: null };
  list_grants: { args: Record<string, never>; result: Array<GrantDto> };
  remove_grant: { args: { consumer: string; accountId: string }; result: null };
  pending_consents: { args: Record<string, never>; result: Array<ConsentRequestDto> };
  answer_consent: { args: { id: number; answer: ConsentAnswerDto }; result: null };
};

/** Every event the backend emits, with its payload. */
export type Events = {
  "accounts-changed": Array<AccountDto>;
  "connect-succeeded": AccountDto;
  "connect-failed": ConnectFailedDto;
  "connections-changed": null;
  "consent-requested": ConsentRequestDto;
  "consent-ended": number;
};

/** Every event's name, for `listen`. */
export const EVENTS = {
  accountsChanged: "accounts-changed",
  connectSucceeded: "connect-succeeded",
  connectFailed: "connect-failed",
  connectionsChanged: "connections-changed",
  consentRequested: "consent-requested",
  consentEnded: "consent-ended",
} as const satisfies Record<string, keyof Events>;
