// The commands of the Settings sections that keep nothing between visits (Activity, Apps & agents,
// Keychain, General, About): each resolves with the backend's answer and rejects with a `CommandError`.
import type { AboutDto } from '../bindings/AboutDto';
import type { AuditEntryDto } from '../bindings/AuditEntryDto';
import type { AuditFilterDto } from '../bindings/AuditFilterDto';
import type { ExportDto } from '../bindings/ExportDto';
import type { ExportFormatDto } from '../bindings/ExportFormatDto';
import type { GrantDto } from '../bindings/GrantDto';
import type { KeychainDto } from '../bindings/KeychainDto';
import type { PreferencesDto } from '../bindings/PreferencesDto';
import { invoke } from '../ipc';

/** The audit trail, oldest first. */
export function auditTrail(filter: AuditFilterDto): Promise<AuditEntryDto[]> {
  return invoke('audit_trail', { filter });
}

/** Writes the filtered audit trail to the Downloads folder. */
export function exportAudit(filter: AuditFilterDto, format: ExportFormatDto): Promise<ExportDto> {
  return invoke('export_audit', { filter, format });
}

export function keychainStatus(): Promise<KeychainDto> {
  return invoke('keychain_status');
}

export function preferences(): Promise<PreferencesDto> {
  return invoke('get_preferences');
}

export function setPreferences(preferences: PreferencesDto): Promise<PreferencesDto> {
  return invoke('set_preferences', { preferences });
}

export function aboutLatchkey(): Promise<AboutDto> {
  return invoke('about');
}

/** Every grant, by consumer then account. */
export function listGrants(): Promise<GrantDto[]> {
  return invoke('list_grants');
}

/** Takes the consumer's grant on the account away. */
export function removeGrant(consumer: string, accountId: string): Promise<null> {
  return invoke('remove_grant', { consumer, accountId });
}
