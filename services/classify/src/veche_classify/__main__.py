from veche_shared.service import serve

from .app import create_app
from .settings import ClassifySettings


def main() -> None:
    settings = ClassifySettings()
    serve(create_app(settings), host=settings.http_host, port=settings.port)


if __name__ == "__main__":
    main()
