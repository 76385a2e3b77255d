import type { HealthPolicy, ModelFormat, ModelSignature } from '@edgeloop/protocol';
import type { Sql } from '../db/database.js';
import { toRecord, type ModelVersionRecord, type VersionRow } from './registry.js';
import { ServerError } from '../errors.js';

export interface VariantFile {
  role: string;
  sha256: string;
  size: number;
  signature: ModelSignature | null;
}

export interface VariantRecord {
  variant: string;
  format: ModelFormat;
  backend: string | null;
  precision: string | null;
  files: VariantFile[];
}

/** A version record (its `format`, `sha256`, `size`, `signature`: the default variant's model file) with what came later. */
export interface VersionDetails extends ModelVersionRecord {
  notes: string;
  publisher: string;
  /** The health policy devices apply to this version's releases; null: the defaults. */
  health: HealthPolicy | null;
  variants: VariantRecord[];
}

interface Row extends VersionRow {
  notes: string;
  publisher: string;
  health: HealthPolicy | null;
}

interface FileRow {
  version: string;
  variant: string;
  format: ModelFormat;
  backend: string | null;
  precision: string | null;
  role: string | null;
  sha256: string | null;
  size: number | string | null;
  signature: ModelSignature | null;
}

/** Versions of one model with their variants and files, newest first (all when `version` is undefined). */
export async function describeVersions(sql: Sql, app: string, model: string, version?: string): Promise<VersionDetails[]> {
  const rows = await sql.query<Row>(
    `select * from model_versions where app = $1 and model = $2 and ($3::text is null or version = $3) order by seq desc`,
    [app, model, version ?? null],
  );
  const files = await sql.query<FileRow>(
    `select v.version, v.variant, v.format, v.backend, v.precision, f.role, f.sha256, f.size, f.signature
     from variants v left join variant_files f using (app, model, version, variant)
     where v.app = $1 and v.model = $2 and ($3::text is null or v.version = $3)
     order by v.variant, f.role, f.sha256`,
    [app, model, version ?? null],
  );
  return rows.map((row) => {
    const variants = new Map<string, VariantRecord>();
    for (const f of files.filter((file) => file.version === row.version)) {
      let v = variants.get(f.variant);
      if (!v) {
        v = { variant: f.variant, format: f.format, backend: f.backend, precision: f.precision, files: [] };
        variants.set(f.variant, v);
      }
      if (f.role !== null) v.files.push({ role: f.role, sha256: f.sha256!, size: Number(f.size), signature: f.signature });
    }
    return { ...toRecord(row), notes: row.notes, publisher: row.publisher, health: row.health ?? null, variants: [...variants.values()] };
  });
}

export async function describeVersion(sql: Sql, app: string, model: string, version: string): Promise<VersionDetails> {
  const [details] = await describeVersions(sql, app, model, version);
  if (!details) throw new ServerError('not_found', `model "${app}/${model}" has no version "${version}"`);
  return details;
}
