/**
 * The catalog as Athena shows it (ListDataCatalogs, GetDataCatalog, ListDatabases, GetDatabase,
 * ListTableMetadata, GetTableMetadata): one data catalog, the Glue catalog, read in Athena's vocabulary.
 */
import { z } from 'zod';
import { athenaErrors, LakeApiError } from '../errors';
import type { GlueCatalog } from '../glue/catalog';
import { tableNameMatcher } from '../glue/glue-api';
import type { TableRecord } from '../lake-state';
import type { OperationHandler } from '../protocol';
import { athenaInput, athenaPage, DATA_CATALOG } from './athena-requests';

/** Maps Glue's "not found" into Athena's vocabulary. */
function asAthena<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof LakeApiError && error.awsType === 'EntityNotFoundException')
      throw athenaErrors.resourceNotFound(error.message);
    if (error instanceof LakeApiError && error.awsType === 'InvalidInputException')
      throw athenaErrors.invalidRequest(error.message);
    throw error;
  }
}

function tableMetadata(table: TableRecord) {
  return {
    Name: table.Name,
    CreateTime: table.CreateTime,
    LastAccessTime: table.LastAccessTime,
    TableType: table.TableType,
    Columns: table.StorageDescriptor?.Columns ?? [],
    PartitionKeys: table.PartitionKeys,
    Parameters: {
      ...table.Parameters,
      location: table.StorageDescriptor?.Location ?? '',
      inputformat: table.StorageDescriptor?.InputFormat ?? '',
    },
  };
}

export function catalogViewOperations(catalog: GlueCatalog): Record<string, OperationHandler> {
  return {
    ListDataCatalogs: () => ({
      DataCatalogsSummary: [{ CatalogName: DATA_CATALOG, Type: 'GLUE', Status: 'CREATE_COMPLETE' }],
    }),
    GetDataCatalog: (raw) => {
      const req = athenaInput(z.looseObject({ Name: z.string() }), raw);
      if (req.Name.toLowerCase() !== DATA_CATALOG.toLowerCase())
        throw athenaErrors.invalidRequest(`Catalog ${req.Name} does not exist`);
      return {
        DataCatalog: {
          Name: DATA_CATALOG,
          Type: 'GLUE',
          Description: 'The Glue catalog of the local lake endpoint',
          Parameters: { 'catalog-id': '000000000000' },
        },
      };
    },
    ListDatabases: (raw) => {
      const req = athenaInput(
        z.looseObject({
          CatalogName: z.string(),
          NextToken: z.string().optional(),
          MaxResults: z.number().int().min(1).max(50).optional(),
        }),
        raw,
      );
      const all = catalog
        .listDatabases()
        .map((d) => ({ Name: d.Name, Description: d.Description, Parameters: d.Parameters }));
      const { page, nextToken } = athenaPage(all, req.NextToken, req.MaxResults ?? 50, 'athena-dbs');
      return { DatabaseList: page, NextToken: nextToken };
    },
    GetDatabase: (raw) => {
      const req = athenaInput(z.looseObject({ CatalogName: z.string(), DatabaseName: z.string() }), raw);
      const db = asAthena(() => catalog.getDatabase(req.DatabaseName));
      return { Database: { Name: db.Name, Description: db.Description, Parameters: db.Parameters } };
    },
    ListTableMetadata: (raw) => {
      const req = athenaInput(
        z.looseObject({
          CatalogName: z.string(),
          DatabaseName: z.string(),
          Expression: z.string().optional(),
          NextToken: z.string().optional(),
          MaxResults: z.number().int().min(1).max(50).optional(),
        }),
        raw,
      );
      // Athena's API reference: "A regex filter that pattern-matches table names".
      const matches = asAthena(() => tableNameMatcher(req.Expression));
      const all = asAthena(() => catalog.listTables(req.DatabaseName))
        .filter((t) => matches(t.Name))
        .map(tableMetadata);
      const scope = `athena-tables:${req.DatabaseName}`;
      const { page, nextToken } = athenaPage(all, req.NextToken, req.MaxResults ?? 50, scope);
      return { TableMetadataList: page, NextToken: nextToken };
    },
    GetTableMetadata: (raw) => {
      const req = athenaInput(
        z.looseObject({ CatalogName: z.string(), DatabaseName: z.string(), TableName: z.string() }),
        raw,
      );
      return {
        TableMetadata: tableMetadata(asAthena(() => catalog.getTable(req.DatabaseName, req.TableName))),
      };
    },
  };
}
