/** Where datasets live in the store (DESIGN.md "Storage layout"). */

/** Dataset and tag names: what may appear as one path segment. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
/** A full version id: the sha256 of the stored bytes, in hex. */
export const VERSION_PATTERN = /^[0-9a-f]{64}$/;

export const datasetKeys = {
  root: (name: string) => `datasets/${name}/`,
  versions: (name: string) => `datasets/${name}/versions/`,
  version: (name: string, version: string) => `datasets/${name}/versions/${version}/`,
  data: (name: string, version: string, ext: string) => `datasets/${name}/versions/${version}/data.${ext}`,
  manifest: (name: string, version: string) => `datasets/${name}/versions/${version}/manifest.json`,
  /** A summary of every version, so listing reads one document instead of every manifest. */
  index: (name: string) => `datasets/${name}/index.json`,
  refs: (name: string) => `datasets/${name}/refs/`,
  ref: (name: string, tag: string) => `datasets/${name}/refs/${tag}`,
};

/** The tag every push moves to the version it pushed. */
export const LATEST = 'latest';
