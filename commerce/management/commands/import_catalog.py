import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from commerce import catalog_files, services, shopify


class Command(BaseCommand):
    help = (
        "Import the store's products from Shopify's product CSV export or a JSON list of products (Shopify's or "
        "WooCommerce's shape). Running it again updates the same products; webhooks keep them current afterwards."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="a .csv (Shopify's product export) or .json file")
        parser.add_argument(
            "--platform",
            choices=["shopify", "woocommerce"],
            default="",
            help="the shape of a JSON file's products (told from their fields when not given)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="check the file and say what it holds, import nothing"
        )

    def handle(self, *args, **options):
        path = Path(options["file"])
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"{path}: cannot be read as UTF-8 text ({error.__class__.__name__}: {error})") from None
        try:
            if path.suffix.lower() == ".json" or text.lstrip()[:1] in ("[", "{"):
                try:
                    data = json.loads(text)
                except ValueError as error:
                    raise CommandError(f"{path}: not JSON ({error})") from None
                products = catalog_files.read_json_catalog(
                    data, platform=options["platform"], store_url=shopify.store_url()
                )
            else:
                products = catalog_files.read_shopify_csv(text, store_url=shopify.store_url())
        except catalog_files.CatalogFileError as error:
            shown = error.problems[:50]
            more = f"\n…and {len(error.problems) - 50} more" if len(error.problems) > 50 else ""
            raise CommandError(f"{path}: nothing imported, fix these first:\n" + "\n".join(shown) + more) from None
        if options["dry_run"]:
            self.stdout.write(f"{path}: {len(products)} products read; nothing imported (--dry-run).")
            return
        report = services.catalog_import(products=products)
        self.stdout.write(
            f"{path}: {report.created} products created, {report.updated} updated, {report.variants} variants."
        )
