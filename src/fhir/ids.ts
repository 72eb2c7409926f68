import { randomUUID } from 'node:crypto';

// R4 id datatype: [A-Za-z0-9\-\.]{1,64}
const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;

export const isValidId = (id: string): boolean => ID_PATTERN.test(id);
export const newId = (): string => randomUUID();
